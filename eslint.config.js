// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const NODE_ONLY =
  'Browser-safe package: Node-only code (fs, workers, process) goes in @nalm/cli or a /node entry point.';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'results/**', '.cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The browser test page's own code (bundled by benchmarks/browser/run.mjs).
    files: ['benchmarks/browser/page.mjs'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // What runs in a browser must: no Node modules or globals in these packages' sources (their
    // build also compiles them without Node's types).
    files: ['packages/units/src/**/*.ts', 'packages/calculator/src/**/*.ts', 'packages/bench/src/**/*.ts'],
    ignores: ['packages/units/src/node.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: builtinModules.map((name) => ({ name, message: NODE_ONLY })),
          patterns: [{ group: ['node:*'], message: NODE_ONLY }],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', '__dirname', '__filename', 'setImmediate', 'global'].map(
          (name) => ({
            name,
            message: NODE_ONLY,
          }),
        ),
      ],
    },
  },
);
