import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { resolveAppSecret } from './config/app-secret.js';
import { loadConfig } from './config/config.js';
import { SigningKeysService } from './tokens/signing-keys.service.js';

/**
 * Operator commands without a browser: `npm run cli -- <command>`, with the service's own environment.
 *   keys:rotate   rotate the token-signing key now (every instance picks it up within a second)
 */
const COMMANDS: Record<string, (app: Awaited<ReturnType<typeof NestFactory.createApplicationContext>>) => Promise<string>> = {
  'keys:rotate': async (app) => {
    const keys = app.get(SigningKeysService);
    await keys.rotate();
    return `signing key is now ${keys.signingKey().kid}; published: ${keys
      .jwks()
      .keys.map((k) => k.kid)
      .join(', ')}`;
  },
};

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    process.stderr.write(`usage: npm run cli -- <command>\ncommands: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  const config = resolveAppSecret({ ...loadConfig(process.env), providers: [], demoIdp: false }, (m) => process.stderr.write(`${m}\n`));
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error', 'warn'] });
  try {
    process.stdout.write(`${await run(app)}\n`);
    return 0;
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  },
);
