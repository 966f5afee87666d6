import { startService, type RunningService } from './service.js';

/** Nest's two HTTP adapters (docs/fastify-trial.md): Fastify, the default, and Express. */
export const ADAPTERS = ['express', 'fastify'] as const;
export type Adapter = (typeof ADAPTERS)[number];

/**
 * For a suite that compares the adapters: one service on each, started before the suite and closed after it, with
 * the same public URL (so what an answer names, the issuer or a redirect, is the same bytes on both), and no 5xx
 * answer from either after any test. The object is filled in beforeAll.
 */
export function serviceOnEachAdapter(): Record<Adapter, RunningService> {
  const services = {} as Record<Adapter, RunningService>;
  beforeAll(async () => {
    services.express = await startService({ HTTP_ADAPTER: 'express' });
    services.fastify = await startService({ HTTP_ADAPTER: 'fastify' }, { publicUrl: services.express.publicUrl });
  });
  afterAll(async () => {
    await Promise.all(Object.values(services).map((s) => s.close()));
  });
  afterEach(() => {
    for (const s of Object.values(services)) expect(s.serverErrors).toEqual([]);
  });
  return services;
}
