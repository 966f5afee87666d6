// A tiny round-robin HTTP proxy (node:http, kept-alive connections to the upstreams), in its own process, for
// bench/two-instances.bench.mjs. Usage: rr-proxy.mjs <upstream url>…; prints { url }.
import { Agent, createServer, request } from 'node:http';

const upstreams = process.argv.slice(2).map((u) => new URL(u));
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
let next = 0;
const server = createServer((req, res) => {
  const to = upstreams[next++ % upstreams.length];
  const out = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  out.on('error', () => {
    res.statusCode = 502;
    res.end();
  });
  req.pipe(out);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
