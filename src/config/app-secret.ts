import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomToken } from '../common/crypto.js';
import type { AppConfig } from './config.js';

export type ResolvedConfig = AppConfig & { appSecret: string };

/**
 * Outside production a missing APP_SECRET is generated once into the data folder (and reused after a restart, so
 * sealed cookies and encrypted signing keys stay readable). Production refuses to start without one (loadConfig).
 */
export function resolveAppSecret(config: AppConfig, warn: (message: string) => void): ResolvedConfig {
  if (config.appSecret) return { ...config, appSecret: config.appSecret };
  const file = join(config.dataDir, 'app-secret');
  if (existsSync(file)) return { ...config, appSecret: readFileSync(file, 'utf8').trim() };
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomToken(32);
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  warn(`APP_SECRET is not set: generated one into ${file}. Set APP_SECRET yourself before running several instances or in production.`);
  return { ...config, appSecret: secret };
}
