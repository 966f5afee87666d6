import { spawn } from 'node:child_process';
import { freePort } from './net.js';
import { TEST_APP_SECRET } from './service.js';

/**
 * The built service (`node dist/main.js`, built by `npm test`) as a separate OS process: for tests where "another
 * instance" must not share this process's memory, timers or connection pools.
 */
export async function startServiceProcess(env: Record<string, string>, opts: { port?: number } = {}) {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      APP_SECRET: TEST_APP_SECRET,
      DEMO_IDP: 'false',
      RATE_LIMITS: 'off',
      LOG_LEVEL: 'silent',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Up to 20 s: a start discovers every configured OIDC provider, which is slow on a busy 2-core machine.
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`service process exited with ${child.exitCode}`);
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    ) {
      return {
        url,
        child,
        exited,
        stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
          child.kill(signal);
          await exited;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('service process did not start');
}
