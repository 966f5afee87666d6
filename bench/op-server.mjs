// The stand-in OpenID provider for the sign-in benchmark (the same oidc-provider set-up the tests use), in its own
// process so the service's CPU time can be measured apart. Usage: op-server.mjs <redirect_uri>; prints { url }.
import { createServer } from 'node:http';
import { createOp } from '../dist/demo/oidc-op.js';

const server = createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}`;
const op = createOp({
  issuer: url,
  title: 'Bench OP',
  clients: [{ client_id: 'bench-rp', client_secret: 'bench-rp-secret', redirect_uris: [process.argv[2]] }],
  claimsFor: (sub) => ({ email: `${sub}@bench.test`, email_verified: true, name: sub }),
});
server.on('request', op.callback());
process.stdout.write(`${JSON.stringify({ url })}\n`);
