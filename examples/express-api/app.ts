import express from 'express';
import {
  AccessTokenVerifier,
  requireAccessToken,
  requireRoles,
  type ConsumerOptions,
  type RequestLike,
} from '@social-login/consumer/express';

/** A plain Express API protected by the kit. */
export function createExpressApi(options: ConsumerOptions) {
  const verifier = new AccessTokenVerifier(options);
  const app = express();
  app.get('/health', (_req, res) => void res.json({ ok: true }));
  app.use(requireAccessToken(verifier));
  app.get('/profile', (req, res) => {
    const { auth } = req as unknown as RequestLike;
    res.json({ sub: auth!.sub, roles: auth!.roles });
  });
  app.get('/reports', requireRoles('admin'), (req, res) => void res.json({ reports: [], for: (req as unknown as RequestLike).auth!.sub }));
  return { app, verifier };
}
