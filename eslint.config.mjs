// Lint: the rules that catch real bugs in this codebase, not style (tsc and review do that).
import tseslint from 'typescript-eslint';

const LIBS = ['config', 'core', 'persistence', 'plaintext', 'activation', 'parametric', 'inference', 'scheduler', 'testing', 'telemetry'];

export default tseslint.config(
  { ignores: ['dist/**', 'packages/*/dist/**', 'node_modules/**', 'data/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Libraries meet only through their public index.ts.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@engram/*/*'], message: 'import a library through its public index (@engram/<lib>)' },
            { regex: `(^|/)(${LIBS.join('|')})/src(/|$)`, message: 'import another library through @engram/<lib>, not its files' },
          ],
        },
      ],
    },
  },
  {
    // The dashboard runs in browsers: its own tsconfig (DOM, ES modules).
    files: ['packages/dashboard/**/*.ts'],
    languageOptions: { parserOptions: { project: './packages/dashboard/tsconfig.json', tsconfigRootDir: import.meta.dirname } },
  },
  {
    // The jest global setup cannot use path aliases (jest does not map them there).
    files: ['libs/testing/src/global-setup.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
