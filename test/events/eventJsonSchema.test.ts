import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// The machine is shared: these do real work (thousands of validations), so give them room.
const SLOW = 60_000;
import { decodeEvent } from '../../src/events/decodeEvent.js';
import { eventJsonSchema } from '../../src/events/eventJsonSchema.js';
import { eventTypes } from '../../src/events/lifecycleEvents.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import { cli } from '../support/cli.js';
import { runs } from '../support/runs.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const compile = (schema: object) => {
  // strict: an unknown keyword or format in the generated schema fails here, not in a producer's validator.
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema);
};

const printed = async (): Promise<object> => {
  const { code, stdout, stderr } = await cli(['schema']);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(stdout) as object;
};

const history = [...generateHistory({ agents: 40, events: 6000, seed: 'schema' })];

const valid = {
  id: '0b6f3c2e-8a1d-4c5e-9f00-1a2b3c4d5e6f',
  type: 'AgentSpawned',
  data: { agentId: 'el-5d6n', sessionId: 's-1', poolId: 'el-rmw5', pid: 4242, host: 'm1' },
  metadata: { at: '2026-11-20T10:00:00.000Z', correlationId: 'c', source: 'dispatch-daemon', extra: { any: 1 } },
};

describe('the JSON Schema of the event catalog', () => {
  it('`rollcall schema` prints draft 2020-12 with one definition per event type', async () => {
    const schema = (await printed()) as { $schema: string; oneOf: unknown[]; $defs: Record<string, unknown> };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(schema.$defs).sort()).toEqual([...eventTypes, 'EventMetadata'].sort());
    expect(schema.oneOf).toHaveLength(eventTypes.length);
  }, SLOW);

  it('the copy shipped in dist/ is what `rollcall schema` prints', async () => {
    const shipped = JSON.parse(readFileSync(new URL('../../dist/schema/events.json', import.meta.url), 'utf8')) as object;
    expect(shipped).toEqual(await printed());
  }, SLOW);

  it('accepts every event of a generated history (ajv, strict, with formats)', async () => {
    const validate = compile(await printed());
    const types = new Set<string>();
    for (const event of history) {
      // Through JSON, as a producer in another language would see it.
      const ok = validate(JSON.parse(JSON.stringify(event)));
      if (!ok) expect.fail(`${event.type} ${JSON.stringify(event)}: ${JSON.stringify(validate.errors)}`);
      types.add(event.type);
    }
    // The generator exercises most of the catalog; the rest is covered by the hand-made cases below.
    expect(types.size).toBeGreaterThanOrEqual(15);
  }, SLOW);

  it('accepts a full envelope, and one without id', () => {
    const validate = compile(eventJsonSchema());
    expect(validate(valid)).toBe(true);
    const { id: _id, ...noId } = valid;
    expect(validate(noId)).toBe(true);
  });

  it.each([
    ['an unknown type', { ...valid, type: 'AgentTeleported' }],
    ['a missing data field', { ...valid, data: { agentId: 'a' } }],
    ['an unknown data key', { ...valid, data: { ...valid.data, sessionID: 's-1' } }],
    ['a mistyped field', { ...valid, data: { ...valid.data, pid: '4242' } }],
    ['a non-positive pid', { ...valid, data: { ...valid.data, pid: 0 } }],
    ['a fractional generation', { ...valid, data: { ...valid.data, generation: 1.5 } }],
    ['an empty id field', { ...valid, data: { ...valid.data, agentId: '' } }],
    ['an id that is not a UUID', { ...valid, id: 'not-a-uuid' }],
    ['no metadata', { id: valid.id, type: valid.type, data: valid.data }],
    ['no metadata.at', { ...valid, metadata: { source: 'x' } }],
    ['an at without a zone', { ...valid, metadata: { at: '2026-11-20T10:00:00' } }],
    ['an at that is no date', { ...valid, metadata: { at: '2026-02-30T10:00:00Z' } }],
    ['a data that is not an object', { ...valid, data: [] }],
    ['an array instead of an event', [valid]],
    ['an unknown top-level field', { ...valid, stream: 'agent-el-5d6n' }],
  ])('rejects %s, as decodeEvent does', (_name, bad) => {
    const validate = compile(eventJsonSchema());
    expect(validate(bad)).toBe(false);
    expect(decodeEvent(bad).success).toBe(false);
  });

  it('agrees with decodeEvent on random damage to generated events', () => {
    const validate = compile(eventJsonSchema());
    const json = fc.jsonValue({ maxDepth: 2 });
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), key: fc.nat() }),
      fc.record({ kind: fc.constant('set' as const), key: fc.nat(), value: json }),
      fc.record({ kind: fc.constant('add' as const), key: fc.string({ minLength: 1, maxLength: 8 }), value: json }),
      fc.record({ kind: fc.constant('retype' as const), type: fc.constantFrom(...eventTypes) }),
      fc.record({ kind: fc.constant('meta' as const), value: json }),
      fc.record({ kind: fc.constant('top' as const), key: fc.constantFrom('stream', 'position', 'extra', 'Type', 'id'), value: json }),
    );
    fc.assert(
      fc.property(fc.nat({ max: history.length - 1 }), fc.array(damage, { minLength: 1, maxLength: 3 }), (index, damages) => {
        const event = JSON.parse(JSON.stringify(history[index])) as { type: string; data: Record<string, unknown>; metadata: unknown };
        for (const d of damages) {
          const keys = Object.keys(event.data);
          if (d.kind === 'drop' && keys.length > 0) delete event.data[keys[d.key % keys.length]!];
          if (d.kind === 'set' && keys.length > 0) event.data[keys[d.key % keys.length]!] = d.value;
          if (d.kind === 'add') event.data[d.key] = d.value;
          if (d.kind === 'retype') event.type = d.type;
          if (d.kind === 'meta') event.metadata = { at: d.value };
          if (d.kind === 'top') (event as Record<string, unknown>)[d.key] = d.value;
        }
        // The reader upcasts v0 AgentRegistered ({ type: 'role:variant' }); producers must not write it.
        fc.pre(!(event.type === 'AgentRegistered' && 'type' in event.data && !('role' in event.data)));
        expect(validate(event)).toBe(decodeEvent(event).success);
      }),
      { numRuns: runs(2000) },
    );
  }, SLOW);
});
