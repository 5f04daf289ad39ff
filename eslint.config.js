// ESLint flat config: typescript-eslint's type-aware recommended rules over the TypeScript sources, ESLint's
// recommended rules over the JavaScript ones. `npm run lint` runs it; CI (.ci/run) runs that before the tests.
//
// The linter lives in tools/lint/ with its own package.json and lockfile, not in the project's devDependencies:
// the project compiles with TypeScript 7 (the native compiler, no JavaScript API), while typescript-eslint
// (8.x, peer range typescript < 6.1) needs TypeScript 6's JavaScript API under the name `typescript`. One
// node_modules can hold only one `typescript`, so the linter gets its own (TypeScript 6 installed under that name,
// an npm alias). `npm ci --prefix tools/lint` installs it; nothing there has an install script.
import { createRequire } from 'node:module';

const fromLint = createRequire(new URL('./tools/lint/package.json', import.meta.url));
const js = fromLint('@eslint/js');
const tseslint = fromLint('typescript-eslint');

const TS = ['**/*.ts'];

export default tseslint.config(
  {
    ignores: ['dist/**', '**/node_modules/**', '.gpu/**', '.gpu-matrix/**', '.dist-*/**', 'runs/**', 'scratch/**', '.scratch/**', 'native/build/**', 'docs/**'],
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
  ...tseslint.configs.recommendedTypeChecked.map((c) => ({ ...c, files: TS })),
  {
    files: TS,
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Off: the code writes `a[i]!` on indexed reads to say the index is in range; without noUncheckedIndexedAccess every such `!` (1,000+) counts as unnecessary.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Off: async without await is kept where a throw must become a rejection (Trainer.train, the CLIs' main) rather than escape synchronously.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a parameter or a destructured field left unused on purpose (tsc's noUnused* checks the rest).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Off in tests: chai's property assertions (`.to.be.NaN`, `.and.not.empty`) are expressions by design.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    // The wire and the round transport hold no type assertions: every payload is narrowed by a schema (zod, tied to
    // its interface with `satisfies`), by `in` or by a type guard. `as const` stays allowed, and so do the
    // `a[i]!` of in-range reads (no-unnecessary-type-assertion stays off, as everywhere).
    files: [
      'shared/protocol/**/*.ts',
      'shared/engine/**/*.ts',
      'shared/errors/**/*.ts',
      'server/coordinator.ts',
      'server/admission.ts',
      'server/http-listen.ts',
      'server/socket-ack.ts',
      'server/engine/socket-transport.ts',
      'client/session.ts',
      'client/stage-listeners.ts',
      'client/connect-error.ts',
      'simulations/virtual-clients.ts',
      'simulations/hosts/**/*.ts',
    ],
    rules: {
      '@typescript-eslint/consistent-type-assertions': ['error', { assertionStyle: 'never' }],
    },
  },
);
