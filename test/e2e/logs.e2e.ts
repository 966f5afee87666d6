import { PassThrough } from 'node:stream';
import { TestBrowser } from '../support/browser.js';
import { browserSignIn, exchangeCode, getJson, postJson } from '../support/sign-in.js';
import { TEST_APP_SECRET } from '../support/service.js';
import { startWorld, type World } from '../support/world.js';

/** A full run with every log line kept (level trace), then grepped for anything secret. */
describe('logs', () => {
  let world: World;
  const lines: string[] = [];

  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    world = await startWorld({ ADMIN_EMAILS: 'logadmin@corp.test' }, { logStream: stream });
    world.corp.accounts.set('logadmin', { email: 'logadmin@corp.test', email_verified: true });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('are JSON with a request id, and never contain a token, code, state, cookie or secret', async () => {
    const browser = new TestBrowser();
    const { result, authorizeUrl } = await browserSignIn(browser, world.service.url, 'corp', { login: 'logadmin' });
    const code = result.searchParams.get('code')!;
    const state = authorizeUrl.searchParams.get('state')!;
    const cookies = browser.history.flatMap((h) => h.headers.getSetCookie()).map((c) => c.split(';')[0].split('=').slice(1).join('='));
    const tokens = await exchangeCode(world.service.url, code);
    const refreshed = await postJson(`${world.service.url}/auth/token`, {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token,
    });
    const access = refreshed.body.access_token as string;
    const me = await fetch(`${world.service.url}/me`, { headers: { authorization: `Bearer ${access}`, 'x-request-id': 'trace-me-123' } });
    expect(me.headers.get('x-request-id')).toBe('trace-me-123');
    await getJson(`${world.service.url}/admin/users?query=logadmin`, access);
    // The first token again: a retry within REFRESH_REUSE_GRACE, answered once; a third time it is reuse, refused.
    const retried = await postJson(`${world.service.url}/auth/token`, {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token,
    });
    expect(retried.status).toBe(200);
    await postJson(`${world.service.url}/auth/token`, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token }); // reuse: refused
    await postJson(`${world.service.url}/auth/logout`, { refresh_token: retried.body.refresh_token });
    await getJson(`${world.service.url}/me`, 'not-a-token');
    await new Promise((r) => setTimeout(r, 100));

    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.req);
    expect(requests.some((l) => l.req.id === 'trace-me-123' && l.req.path === '/me')).toBe(true);
    const all = lines.join('\n');
    const secrets = {
      code,
      state,
      access,
      first_access: tokens.body.access_token as string,
      refresh: tokens.body.refresh_token as string,
      refresh2: refreshed.body.refresh_token as string,
      refresh3: retried.body.refresh_token as string,
      retried_access: retried.body.access_token as string,
      app_secret: TEST_APP_SECRET,
      ...Object.fromEntries(['corp-secret', 'acme-secret', 'google-secret', 'fb-secret'].map((s) => [s, s])),
      ...Object.fromEntries(cookies.filter((c) => c.length > 20).map((c, i) => [`cookie${i}`, c])),
    };
    for (const [name, value] of Object.entries(secrets)) expect([name, all.includes(value)]).toEqual([name, false]);

    // The same run, counted in the Prometheus metrics.
    const metrics = await (await fetch(`${world.service.url}/metrics`)).text();
    expect(metrics).toContain('sls_sign_ins_total{provider="corp",outcome="success"} 1');
    expect(metrics).toContain('sls_tokens_issued_total{grant="authorization_code"} 1');
    expect(metrics).toContain('sls_tokens_issued_total{grant="refresh_token"} 2');
    expect(metrics).toContain('sls_refresh_token_retries_total 1');
    expect(metrics).toContain('sls_refresh_token_reuse_total 1');
    expect(metrics).toMatch(/sls_http_request_duration_seconds_count\{method="GET",route="\/auth\/:provider\/callback",status="302"\} 1/);
    expect(metrics).toContain('process_cpu_user_seconds_total');
    for (const [name, value] of Object.entries(secrets)) expect([name, metrics.includes(value)]).toEqual([name, false]);
  });
});
