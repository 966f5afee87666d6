// Jest 30 in ESM mode (NestJS 12 is ESM only): run through `npm test`, which sets --experimental-vm-modules.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // Type checking is `npm run typecheck` (part of `npm test`); isolatedModules (tsconfig) makes ts-jest only transpile.
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts', '<rootDir>/test/**/*.e2e.ts', '<rootDir>/examples/**/*.spec.ts'],
  testTimeout: 30000,
  reporters: ['default', '<rootDir>/test/support/security-table-reporter.cjs'],
};
