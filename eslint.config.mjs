// Lint rules that keep the workflow code deterministic and every promise awaited (the
// Temporal samples' setup): workflows may not import Node built-ins or I/O libraries.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.pgferry/**', 'bench/work/**', '*.mjs', 'vitest.config.ts', '.scratch/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'net', 'crypto', 'http', 'https'], message: 'Workflow code must be deterministic: no Node built-ins.' },
            { group: ['pg', 'pg-*', '@temporalio/activity', '@temporalio/worker', '@temporalio/client'], message: 'Workflow code does no I/O: call an activity.' },
            { group: ['../activities/*', '../activities'], allowTypeImports: true, message: 'Import activities as types only.' },
          ],
        },
      ],
    },
  },
);
