// Three tiers (see docs/style): unit specs beside the libs, integration and
// end-to-end suites under test/. Each tier is a jest project so they can be
// selected on their own (npm run test:unit / test:int / test:e2e).
const base = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: {
    '^@modgate/gomod$': '<rootDir>/libs/gomod/src',
    '^@modgate/storage$': '<rootDir>/libs/storage/src',
    '^@modgate/auditlog$': '<rootDir>/libs/auditlog/src',
  },
  rootDir: __dirname,
};
module.exports = {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'], setupFilesAfterEnv: ['<rootDir>/test/support/timeout-int.js'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'], setupFilesAfterEnv: ['<rootDir>/test/support/timeout-e2e.js'] },
  ],
};
