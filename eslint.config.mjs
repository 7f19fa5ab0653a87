// Type-aware lint, part of `npm test` (test/run.mjs, suite "lint"): the rules that catch real
// bugs in this codebase (a promise nobody awaits, an import that is only a type, dead code).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', '.vscode-test/**', 'bench/**', 'scripts/**', 'test/**/*.mjs', 'test/**/*.js', 'test/**/*.cjs', 'eslint.config.mjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test registers these and awaits them itself
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // untrusted data is parsed with zod; `any` stays visible in review rather than banned outright
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      // a regex that matches YAML indentation reads better with its spaces written out
      'no-regex-spaces': 'off',
    },
  },
  {
    // the webviews' scripts (media/*.js) run in the webview's browser, outside the TypeScript project
    files: ['media/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'script',
      globals: { acquireVsCodeApi: 'readonly', document: 'readonly', window: 'readonly', FormData: 'readonly' },
    },
  },
  {
    // tests may assert on loosely typed JSON bodies and use non-null assertions on fixtures
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
