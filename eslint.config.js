// A short, strict rule set: bugs and type hygiene only, no formatting (that would churn every file).
// Type-aware, so that floating and misused promises are caught where they hurt most (stores, live).
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, bottom up: a module imports only from layers below its own, never from a
 * layer above nor from a sibling of its own layer (README, Architecture). `ingest` sits just below
 * the layer of live/reconcile/inspect because the reconciler appends through its group commit.
 * `telemetry` (span helpers and instruments over `@opentelemetry/api`) sits under everything that records.
 */
const LAYERS = [
  ['errors.ts'],
  ['telemetry'],
  ['events'],
  ['ndjson', 'generate'],
  ['stores'],
  ['projections'],
  ['replay'],
  ['ingest'],
  ['inspect', 'live', 'reconcile'],
  ['serve'],
  ['cli', 'index.ts'],
];
const src = (name) => `./src/${name}`;
const layerZones = LAYERS.flatMap((layer, i) =>
  layer.map((name) => ({
    target: src(name),
    from: [...layer.filter((other) => other !== name), ...LAYERS.slice(i + 1).flat(), 'dashboard'].map(src),
    message: `src/${name} sits below these in the layer order (eslint.config.js LAYERS): import down only.`,
  })),
);

/**
 * `import-x/no-restricted-paths` zones: the layer order, fleet generation used by the CLI alone,
 * and the dashboard (a browser bundle) importing nothing of the library but the wire JSON's types.
 */
export const importBoundaries = {
  plugins: { 'import-x': importX },
  settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: import.meta.dirname + '/tsconfig.json' })] },
  rules: {
    'import-x/no-restricted-paths': [
      'error',
      {
        basePath: import.meta.dirname,
        zones: [
          ...layerZones,
          {
            target: LAYERS.flat().filter((name) => name !== 'cli' && name !== 'generate').map(src),
            from: src('generate'),
            message: 'src/generate (fleet histories for tests, the bench and the demo) is for the CLI only.',
          },
          {
            target: src('dashboard'),
            from: LAYERS.flat().filter((name) => name !== 'projections').map(src),
            message: 'the dashboard is a browser bundle: it imports only the wire JSON types (projections/viewJson.ts).',
          },
          {
            target: src('dashboard'),
            from: src('projections'),
            except: ['./viewJson.ts'],
            message: 'the dashboard is a browser bundle: it imports only the wire JSON types (projections/viewJson.ts).',
          },
        ],
      },
    ],
    // A specifier the resolver cannot follow would escape the check above: it fails lint instead.
    'import-x/no-unresolved': 'error',
  },
};

/**
 * OpenTelemetry: the library records through src/telemetry alone, which uses the API alone; only
 * the CLI loads an SDK (lazily, when OTEL_* asks for one). docs/observability.md.
 */
export const telemetryBoundaries = [
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: ['src/telemetry/**', 'src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@opentelemetry/*'], message: 'record through src/telemetry (the OpenTelemetry API is used there alone).' }] }],
    },
  },
  {
    files: ['src/telemetry/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@opentelemetry/*', '!@opentelemetry/api'], message: 'the library uses the OpenTelemetry API alone; the SDK is loaded by the CLI (src/cli/telemetrySdk.ts).' }] },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.rollcall-tmp/**', '.scratch-stores/**', '.stryker-tmp/**', 'reports/**', 'src/events/generated/**'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      // Root-level config files (vitest, stryker) are outside tsconfig.json: a default project covers them.
      parserOptions: { projectService: { allowDefaultProject: ['*.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Naming the invisible characters of hostile input means matching control characters on purpose.
      'no-control-regex': 'off',
      'no-console': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // The library reports through return values and RollcallError; only the CLI writes to a console.
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: ['src/cli/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'error',
    },
  },
  { files: ['src/**/*.ts', 'src/**/*.tsx'], ...importBoundaries },
  ...telemetryBoundaries,
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
