// Three tiers (STYLE.md): small = pure logic (*.spec.ts beside the code),
// medium = real PostgreSQL (*.medium-spec.ts), e2e = HTTP against the real app (test/*.e2e-spec.ts).
const aliases = require('./tsconfig.json').compilerOptions.paths;
const moduleNameMapper = {};
for (const [name, [target]] of Object.entries(aliases)) moduleNameMapper[`^${name}$`] = `<rootDir>/${target}`;

const common = {
  testEnvironment: '<rootDir>/libs/testing/src/node-realm.environment.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  resolver: '<rootDir>/libs/testing/src/ts-extension.resolver.js',
  rootDir: __dirname,
  // Scratch builds and repository copies live there (git-ignored): their package.json files would shadow the workspace's.
  modulePathIgnorePatterns: ['<rootDir>/test-artifacts/'],
};

module.exports = {
  // The root transform also compiles the global setup and teardown.
  transform: common.transform,
  globalSetup: '<rootDir>/libs/testing/src/global-setup.ts',
  globalTeardown: '<rootDir>/libs/testing/src/global-teardown.ts',
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'small', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    { ...common, displayName: 'medium', testMatch: ['<rootDir>/{apps,libs,test}/**/*.medium-spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
