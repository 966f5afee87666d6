// The machine's limit for the comparison: node:http answering the same small JSON as the service's discovery route.
import { createServer } from 'node:http';

const body = JSON.stringify({
  issuer: 'http://127.0.0.1',
  jwks_uri: 'http://127.0.0.1/.well-known/jwks.json',
  token_endpoint: 'http://127.0.0.1/auth/token',
});
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`));
