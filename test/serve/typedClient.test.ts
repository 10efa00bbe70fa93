// A client generated from /openapi.json (openapi-typescript + openapi-fetch) types the append and
// the reads the way the server answers them: tsc checks a POST and a GET, and the compiled client
// then runs them against the server.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StartedServer } from '../../src/serve/startServer.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { fleet, getJson, serve } from './harness.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the repository, so that the client's `import 'openapi-fetch'` resolves to our node_modules.
const dir = join(root, '.rollcall-tmp', `typed-client-${process.pid}`);
const TOKEN = 'typed-client-write-token';

let store: EventStore;
let server: StartedServer;
let doc: any;

beforeAll(async () => {
  store = openMemoryStore();
  await store.appendBatch(fleet(20, 600));
  server = await serve(store, { token: TOKEN });
  doc = (await getJson(`${server.url}/openapi.json`)).body;
});
afterAll(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 and writes each schema once (no PoolInput beside Pool)', async () => {
    await SwaggerParser.validate(structuredClone(doc));
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(expect.arrayContaining(['Pool', 'Agent', 'Projection', 'Event', 'AgentSpawned', 'EventMetadata']));
    expect(names.filter((n) => n.endsWith('Input') && names.includes(n.slice(0, -'Input'.length)))).toEqual([]);
  });

  it('types the append body as an event, an array of events, or NDJSON text', () => {
    const body = doc.paths['/v1/events'].post.requestBody;
    expect(Object.keys(body.content).sort()).toEqual(['application/json', 'application/x-ndjson']);
    expect(body.content['application/json'].schema.oneOf).toEqual([
      { $ref: '#/components/schemas/Event' },
      { type: 'array', items: { $ref: '#/components/schemas/Event' }, minItems: 1, maxItems: 10_000 },
    ]);
    expect(body.content['application/x-ndjson'].schema.type).toBe('string');
    expect(doc.components.schemas.Event.oneOf).toContainEqual({ $ref: '#/components/schemas/AgentHeartbeat' });
  });

  it('attaches the bearer scheme to what needs it on this server: writes, not reads or probes', () => {
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/v1/events'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/events'].post.responses['401']).toBeDefined();
    expect(doc.paths['/v1/pools'].get.security).toBeUndefined();
    expect(doc.paths['/readyz'].get.security).toBeUndefined();
  });
});

describe('a client generated from it', () => {
  it('type-checks a POST and a GET, refuses what is not an event, and runs both against the server', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'api.ts'), astToString(await openapiTS(doc)));
    const poolId = Object.keys((await getJson(`${server.url}/v1/pools`)).body)[0]!;
    const agentId = Object.keys((await getJson(`${server.url}/v1/projection`)).body.agents)[0]!;
    writeFileSync(
      join(dir, 'client.ts'),
      `import createClient from 'openapi-fetch';
import type { paths } from './api.js';

const [baseUrl, token, poolId, agentId] = process.argv.slice(2) as [string, string, string, string];
const client = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` } });

const posted = await client.POST('/v1/events', {
  body: { type: 'AgentHeartbeat', data: { agentId }, metadata: { at: new Date().toISOString() } },
});
const appended: number | undefined = posted.data?.appended;
const position: string | null | undefined = posted.data?.last;
console.log(\`appended \${appended} at \${position}\`);

const pool = await client.GET('/v1/pools/{poolId}', { params: { path: { poolId } } });
const active: number | undefined = pool.data?.status.activeCount;
const enabled: boolean | undefined = pool.data?.enabled;
console.log(\`pool \${pool.data?.poolId} \${active} \${enabled}\`);

// Never called: what the types must refuse (tsc fails if any of these compiles).
export const refused = () => {
  // (A string body is NDJSON text, one event per line: that one is allowed.)
  // @ts-expect-error no such event type
  void client.POST('/v1/events', { body: { type: 'AgentVanished', data: { agentId }, metadata: { at: '' } } });
  // @ts-expect-error AgentHeartbeat's data needs an agentId
  void client.POST('/v1/events', { body: { type: 'AgentHeartbeat', data: {}, metadata: { at: '' } } });
  // @ts-expect-error the pool route needs its poolId
  void client.GET('/v1/pools/{poolId}', {});
  // @ts-expect-error a pool has no field of that name
  void pool.data?.activeCount;
};
`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          types: ['node'],
          rootDir: '.',
          outDir: 'out',
          skipLibCheck: true,
        },
        files: ['api.ts', 'client.ts'],
      }),
    );
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    try {
      execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
    } catch (e) {
      expect.fail(`tsc: ${(e as { stdout?: string }).stdout ?? String(e)}`);
    }
    // Asynchronously: the server answering it runs in this process.
    const { stdout: out } = await promisify(execFile)(process.execPath, [join(dir, 'out', 'client.js'), server.url, TOKEN, poolId, agentId], { encoding: 'utf8' });
    const pool = (await getJson(`${server.url}/v1/pools/${poolId}`)).body;
    expect(out.trim().split('\n')).toEqual([
      `appended 1 at ${await store.head()}`,
      `pool ${poolId} ${pool.status.activeCount} ${pool.enabled}`,
    ]);
  });
});
