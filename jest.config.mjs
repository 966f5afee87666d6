// Jest 30 in ESM mode (NestJS 12 is ESM only): run through `npm test`, which sets --experimental-vm-modules.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // Type checking is `npm run typecheck` (part of `npm test`); isolatedModules (tsconfig) makes ts-jest only transpile.
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts', '<rootDir>/test/**/*.e2e.ts', '<rootDir>/examples/**/*.spec.ts'],
  testTimeout: 30000,
  // No forceExit: the run ends by itself once every suite has closed what it opened (servers, stand-in providers,
  // Redis and PostgreSQL connections, Chromium, timers). "Jest did not exit" means a leak: find it with
  // --detectOpenHandles, and close it in the code or in test/support, even when a beforeAll fails half-way.
  reporters: ['default', '<rootDir>/test/support/security-table-reporter.cjs'],
};
