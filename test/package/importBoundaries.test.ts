import { fileURLToPath, pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

// The import-boundary rules of `npm run lint` (eslint.config.js), run on sources that exist only in
// memory, named as if they sat in src/: an import up the layer order must fail, one down must pass.
const root = fileURLToPath(new URL('../../', import.meta.url));

const lint = async (path: string, code: string) => {
  const { importBoundaries, telemetryBoundaries } = (await import(pathToFileURL(`${root}eslint.config.js`).href)) as {
    importBoundaries: Record<string, unknown>;
    telemetryBoundaries: Array<Record<string, unknown>>;
  };
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts', '**/*.tsx'], languageOptions: { parser: tseslint.parser }, ...importBoundaries }, ...telemetryBoundaries],
  });
  const [result] = await eslint.lintText(code, { filePath: `${root}${path}` });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
};

describe('import boundaries (npm run lint)', () => {
  it('a store importing the live runtime fails: an import up the layers', async () => {
    const messages = await lint('src/stores/fixture.ts', "import { openRollcall } from '../live/openRollcall.js';\nexport const f = openRollcall;\n");
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^import-x\/no-restricted-paths: .*"\.\.\/live\/openRollcall\.js".*src\/stores sits below/);
  });

  it('projections importing replay fails, and siblings of one layer may not import each other', async () => {
    expect(await lint('src/projections/fixture.ts', "export { foldEvents } from '../replay/foldEvents.js';\n")).toHaveLength(1);
    expect(await lint('src/live/fixture.ts', "export { reconcileOnce } from '../reconcile/reconciler.js';\n")).toHaveLength(1);
  });

  it('the library may not import the fleet generator, and the dashboard only the wire types', async () => {
    expect(await lint('src/serve/fixture.ts', "export { generateHistory } from '../generate/generateHistory.js';\n")).toHaveLength(1);
    expect(await lint('src/dashboard/fixture.ts', "export { lifecycleView } from '../projections/lifecycleView.js';\n")).toHaveLength(1);
    expect(await lint('src/dashboard/fixture.ts', "export type { ProjectionJson } from '../projections/viewJson.js';\n")).toEqual([]);
  });

  it('OpenTelemetry: the library records through src/telemetry, which uses the API alone; only the CLI loads the SDK', async () => {
    expect(await lint('src/serve/fixture.ts', "export { trace } from '@opentelemetry/api';\n")).toEqual([
      expect.stringMatching(/^no-restricted-imports: .*record through src\/telemetry/),
    ]);
    expect(await lint('src/telemetry/fixture.ts', "export { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';\n")).toEqual([
      expect.stringMatching(/^no-restricted-imports: .*the OpenTelemetry API alone/),
    ]);
    // src/telemetry is the lowest layer but errors.ts: it may not import the events above it.
    expect(await lint('src/telemetry/fixture.ts', "export { decodeEvent } from '../events/decodeEvent.js';\n")).toHaveLength(1);
    expect(await lint('src/telemetry/fixture.ts', "export { trace } from '@opentelemetry/api';\n")).toEqual([]);
    expect(await lint('src/stores/fixture.ts', "export { traced } from '../telemetry/traced.js';\n")).toEqual([]);
    expect(await lint('src/cli/fixture.ts', "export { MeterProvider } from '@opentelemetry/sdk-metrics';\n")).toEqual([]);
  });

  it('imports down the layers pass, and an import the resolver cannot follow fails rather than escaping the check', async () => {
    const down = "import { openRollcall } from '../live/openRollcall.js';\nimport { replayStore } from '../replay/replayLog.js';\nexport const f = [openRollcall, replayStore];\n";
    expect(await lint('src/serve/fixture.ts', down)).toEqual([]);
    expect(await lint('src/cli/fixture.ts', "export { generateHistory } from '../generate/generateHistory.js';\n")).toEqual([]);
    expect(await lint('src/stores/fixture.ts', "export { x } from '../nowhere.js';\n")).toEqual([
      "import-x/no-unresolved: Unable to resolve path to module '../nowhere.js'.",
    ]);
  });
});
