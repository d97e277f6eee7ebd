import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'helm/**', '.cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
  },
  // Import boundaries (docs/adding-a-sink.md). A sink's folder reaches the rest of alertbridge only through the kit
  // (sinks/kit.ts) or the contract (sinks/types.ts): never src/ directly, never another sink's folder.
  {
    files: ['sinks/*/**/*.ts'],
    ignores: ['sinks/kit/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!(kit|types)\\.js$)',
              message: 'A sink imports only ../kit.js, ../types.js, files of its own folder and npm packages.',
            },
          ],
        },
      ],
    },
  },
  // The app reaches sinks only through the registry and the sink contract.
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)sinks/(?!(registry|types)\\.js$)',
              message: 'src/ reaches sinks only through sinks/registry.js and sinks/types.js.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
