import type { IncomingHttpHeaders } from 'node:http';

/**
 * Whether a request says it carries a form (`application/x-www-form-urlencoded`), as Express's `req.is` answered it,
 * from the headers alone, so that Express's and Fastify's requests (and Node's own) are read alike: framing for a
 * body (RFC 9112 §6.3: Transfer-Encoding, or a Content-Length, even 0, as type-is's hasBody counts it), and that media
 * type, whose name is case-insensitive and whose parameters follow a `;` (RFC 9110 §8.3.1).
 */
export function isFormBody(req: { headers: IncomingHttpHeaders }): boolean {
  const { headers } = req;
  if (headers['transfer-encoding'] === undefined && Number.isNaN(Number(headers['content-length']))) return false;
  return (headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase() === 'application/x-www-form-urlencoded';
}
