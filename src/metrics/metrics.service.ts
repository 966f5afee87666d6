import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics (prom-client), in a registry of this app's own (tests run several apps in one process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly signIns = new Counter({
    name: 'sls_sign_ins_total',
    help: 'Browser sign-ins by provider and outcome (success, or the error code).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'sls_tokens_issued_total',
    help: 'Access tokens issued, by grant.',
    labelNames: ['grant'] as const,
    registers: [this.registry],
  });

  readonly refreshReuse = new Counter({
    name: 'sls_refresh_token_reuse_total',
    help: 'Spent refresh tokens presented again (each revokes its session).',
    registers: [this.registry],
  });

  readonly refreshRetries = new Counter({
    name: 'sls_refresh_token_retries_total',
    help: 'Just-spent refresh tokens answered again within REFRESH_REUSE_GRACE (a retry whose answer was lost).',
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'sls_rate_limited_total',
    help: 'Requests refused with 429, by kind of route.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'sls_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  /** One histogram child per method, route and status, so an observation does not hash its labels again. */
  private readonly durations = new Map<string, { observe(seconds: number): void }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let child = this.durations.get(key);
    if (!child) {
      child = this.requestDuration.labels({ method, route, status: String(status) });
      this.durations.set(key, child);
    }
    child.observe(seconds);
  }
}
