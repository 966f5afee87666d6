// Preloaded into a service process (NODE_OPTIONS=--require …/count-queries.cjs) to count the statements it sends to
// PostgreSQL: every pg Client's query(), by statement text (the pool's clients and TypeORM's runners all go through
// it). On SIGWINCH (not SIGUSR2: Nest's enableShutdownHooks shuts down on it) it writes { total, byText } to QUERY_COUNT_FILE. For bench/capacity-inputs.mjs only.
const { writeFileSync } = require('node:fs');
const pg = require('pg');

const byText = new Map();
let total = 0;
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function query(config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 160);
    byText.set(key, (byText.get(key) ?? 0) + 1);
    total++;
  }
  return original.call(this, config, ...rest);
};
process.on('SIGWINCH', () => {
  writeFileSync(process.env.QUERY_COUNT_FILE, JSON.stringify({ total, byText: Object.fromEntries(byText) }));
});
