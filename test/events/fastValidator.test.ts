import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GENERATED_VALIDATOR, validatorSource } from '../../scripts/generateValidator.js';
import { decodeEvent, decodeLine, verbatimEvent, type DecodeResult } from '../../src/events/decodeEvent.js';
import { validators } from '../../src/events/generated/validateEvent.js';
import { EventEnvelope, LifecycleEventBody } from '../../src/events/lifecycleEvents.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { runs } from '../support/runs.js';

// The compiled validator (src/events/generated, ajv standalone code from eventJsonSchema) must be
// zod's rule exactly: these properties feed both the same valid and damaged events.

describe('the generated validator file', () => {
  it('is what scripts/generateValidator.ts writes from the catalog today (run `npm run generate` when this fails)', () => {
    expect(readFileSync(GENERATED_VALIDATOR, 'utf8') === validatorSource()).toBe(true);
  });

  it('has one validator per event type of the catalog, and nothing else', () => {
    expect(Object.keys(validators).sort()).toEqual(LifecycleEventBody.options.map((o) => o.shape.type.value).sort());
  });
});

const RUNS = runs(3000);
// Each verdict must come up a fair share of the runs. Under `npm run mutate` (10 runs) a tenth is
// one run, too few to ask for: there only the equivalence itself is checked.
const FAIR_SHARE = RUNS >= 100 ? RUNS / 10 : 0;
const ID = '0b6f1c2e-1111-4222-8333-444455556666';
const missingId = () => ID;

// Events with every optional field the random histories leave out: arrays, records, loose metadata.
const rich: unknown[] = [
  { type: 'PoolCreated', data: { poolId: 'p', name: 'n', maxSize: 3, agentTypes: ['worker:ephemeral', 'steward'], enabled: false }, metadata: { at: '2026-11-20T10:00:00Z', correlationId: 'c', causationId: 'k', source: 's', extra: { deep: [1, 'x', null] } } },
  { type: 'PoolUpdated', data: { poolId: 'p', name: '', agentTypes: [] }, metadata: { at: '2026-11-20T10:00:00.123456+05:30' } },
  { type: 'AgentRegistered', data: { agentId: 'a', role: 'worker', variant: 'v', name: 'ünï 🚀' }, metadata: { at: '2024-02-29T23:59:59.9-00:00' } },
  { type: 'AgentSuspected', id: 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', data: { agentId: 'a', reason: 'silent', observed: { lastSeen: '2026', n: 1, nested: { a: [true] } } }, metadata: { at: '2026-11-20T10:00:00Z' } },
  { type: 'OrchestratorStarted', id: '00000000-0000-0000-0000-000000000000', data: { host: 'h', epoch: 9007199254740991, adopted: [{ agentId: 'a', sessionId: 's', pid: 2147483647 }, { agentId: 'b', sessionId: 't' }] }, metadata: { at: '2026-11-20T10:00:00Z' } },
  { type: 'RunFinished', data: { agentId: 'a', sessionId: 's', generation: 0, outcome: 'ok', epoch: 1 }, metadata: { at: '2026-11-20T10:00:00Z' } },
  { type: 'AgentSpawned', data: { agentId: 'a', sessionId: 's', poolId: 'p', pid: 1, generation: 2, host: 'h', epoch: 3, leaseMs: 1 }, metadata: { at: '2026-11-20T10:00:00Z' } },
  { type: 'AgentStopped', data: { agentId: 'a', reason: 'r', resumable: true }, metadata: { at: '2026-11-20T10:00:00Z' } },
  { type: 'SessionTerminated', data: { agentId: 'a', sessionId: 's', terminationReason: 'done' }, metadata: { at: '2026-11-20T10:00:00Z' } },
  { type: 'AgentRegistered', data: { agentId: 'a', type: 'worker:merge' }, metadata: { at: '2026-11-20T10:00:00Z' } },
];

/** Replaced by `1e400` in the JSON text, which JSON.parse reads as Infinity. */
const INFINITY = '__infinity__';

const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e-7, 2147483647, 2147483648, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, INFINITY),
  fc.constantFrom('', ' ', 'x', '\u0000', '\ud800', '\udfff', 'ünïcödé', '🚀', '\u2028', '\uFEFF', 'null', '1', 'true'),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.uuid().chain((u) => fc.constantFrom(u, u.toUpperCase(), u.slice(1), `${u} `, u.replace(/-/g, ''), u.replace(/^./, 'g'))),
  fc
    .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    .chain((d) => {
      const iso = d.toISOString();
      return fc.constantFrom(iso, iso.replace('Z', ''), iso.replace('Z', '+01:00'), iso.replace('Z', '+0100'), iso.replace('.', ','), iso.slice(0, 19) + 'Z', iso.slice(0, 10), iso.replace('T', ' '), iso.toLowerCase(), iso.replace(/\.\d+/, '.1234567'));
    }),
  fc.constantFrom('2026-02-29T00:00:00Z', '2024-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-04-31T00:00:00Z', '2026-11-20T24:00:00Z', '2026-11-20T10:60:00Z', '2026-11-20T10:00:00+24:00', '+002026-11-20T10:00:00Z'),
  fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }),
  fc.record({ agentId: fc.string({ maxLength: 2 }), sessionId: fc.string({ maxLength: 2 }), pid: fc.integer() }, { requiredKeys: [] }),
);

const oddKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'extra', 'at', 'id', 'type', 'data', 'metadata', 'agentId', 'sessionId', 'poolId', 'pid', 'observed', 'adopted', 'correlationId', ''),
  fc.string({ maxLength: 4 }),
);

type Edit = { at: number; op: 'replace' | 'delete' | 'add'; key: string; value: unknown };
const edit: fc.Arbitrary<Edit> = fc.record({ at: fc.nat(), op: fc.constantFrom('replace', 'delete', 'add'), key: oddKey, value: oddValue });

/** Every object or array in a JSON value, the root first. */
const containers = (v: unknown, out: object[] = []): object[] => {
  if (typeof v !== 'object' || v === null) return out;
  out.push(v);
  for (const child of Object.values(v)) containers(child, out);
  return out;
};

/** The event as JSON text after the edits (a `__proto__` key is written as a plain key, as JSON allows). */
const damaged = (event: unknown, edits: readonly Edit[]): string => {
  const root = JSON.parse(JSON.stringify(event)) as unknown;
  for (const { at, op, key, value } of edits) {
    const nodes = containers(root);
    const node = nodes[at % nodes.length] as Record<string, unknown> | unknown[];
    const keys = Object.keys(node);
    if (op === 'add' || keys.length === 0) {
      Object.defineProperty(node, Array.isArray(node) ? String(node.length) : key, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const k = keys[at % keys.length]!;
    if (op === 'delete') {
      if (Array.isArray(node)) node.splice(Number(k), 1);
      else delete node[k];
    } else (node as Record<string, unknown>)[k] = value;
  }
  return JSON.stringify(root).replaceAll(`"${INFINITY}"`, '1e400');
};

/**
 * A value written out exactly: own keys sorted (the key order of objects is not part of an event),
 * prototypes named, -0 and undefined kept. (toStrictEqual would do, but it takes an own key named
 * `constructor` for the object's class.)
 */
const exact = (v: unknown): string => {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(exact).join(',')}]`;
  const proto = Object.getPrototypeOf(v) === Object.prototype ? '' : 'odd-prototype';
  const keys = Object.keys(v).sort();
  return `${proto}{${keys.map((k) => `${JSON.stringify(k)}:${exact((v as Record<string, unknown>)[k])}`).join(',')}}`;
};

const summary = (r: DecodeResult): string =>
  r.success
    ? `ok verbatim=${r.verbatim} ${exact(r.data)}`
    : exact({ code: r.error.code, message: r.error.message, path: r.error.path, line: r.error.line, index: r.error.index, position: r.error.position });

const zodSchema = new Map(LifecycleEventBody.options.map((b) => [b.shape.type.value as string, b.extend({ id: EventEnvelope.shape.id, metadata: EventEnvelope.shape.metadata }).strict()]));

/**
 * A key named `__proto__` in an object zod copies and that lets unknown keys through (metadata,
 * `observed`): zod drops it from its copy. (Deeper, inside values zod passes on as they are, it stays.)
 */
const protoKeyInOpenObject = (raw: Record<string, unknown>): boolean => {
  const open = [raw['metadata'], (raw['data'] as Record<string, unknown> | undefined)?.['observed']];
  return open.some((o) => typeof o === 'object' && o !== null && Object.hasOwn(o, '__proto__'));
};

const baseEvent = fc.oneof(
  arbitraryHistory({ maxLength: 6 }).filter((events) => events.length > 0).map((events) => events[events.length - 1] as unknown),
  fc.constantFrom(...rich),
);

describe('the compiled validator and zod decide alike', () => {
  it('decodeEvent with and without the compiled validator: the same verdict, the same event, the same error', () => {
    const seen = { accepted: 0, refused: 0, fast: 0 };
    fc.assert(
      fc.property(baseEvent, fc.array(edit, { maxLength: 3 }), fc.boolean(), (event, edits, storable) => {
        const text = damaged(event, edits);
        const fast = decodeLine(text, { line: 7 }, { missingId, storable });
        const zod = decodeLine(text, { line: 7 }, { missingId, storable, fast: false });
        expect(summary(fast)).toBe(summary(zod));
        // And the text decodes to the same event however often: the fast path never changes its input.
        const raw = JSON.parse(text) as unknown;
        decodeEvent(raw, {}, { missingId });
        expect(exact(raw)).toBe(exact(JSON.parse(text)));
        if (fast.success) seen.accepted++;
        else seen.refused++;
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    expect(seen.accepted).toBeGreaterThanOrEqual(FAIR_SHARE);
    expect(seen.refused).toBeGreaterThanOrEqual(FAIR_SHARE);
  });

  it('the compiled validator of a type accepts exactly what its zod schema accepts (a `__proto__` key left to zod)', () => {
    const seen = { yes: 0, no: 0 };
    fc.assert(
      fc.property(baseEvent, fc.array(edit, { maxLength: 3 }), (event, edits) => {
        const raw = JSON.parse(damaged(event, edits)) as Record<string, unknown>;
        const type = typeof raw['type'] === 'string' ? raw['type'] : 'AgentHeartbeat';
        const schema = zodSchema.get(type);
        const validate = (validators as Record<string, (v: unknown) => boolean>)[type];
        if (schema === undefined || validate === undefined) return;
        const verdict = validate(raw);
        expect(verdict).toBe(schema.safeParse(raw).success && !protoKeyInOpenObject(raw));
        if (verdict) seen.yes++;
        else seen.no++;
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    expect(seen.yes).toBeGreaterThanOrEqual(FAIR_SHARE);
    expect(seen.no).toBeGreaterThanOrEqual(FAIR_SHARE);
  });

  it('verbatimEvent (the NDJSON reader\'s fast path) gives an event exactly when decodeEvent accepts it as written, and the same event', () => {
    const seen = { fast: 0 };
    fc.assert(
      fc.property(baseEvent, fc.array(edit, { maxLength: 3 }), (event, edits) => {
        const text = damaged(event, edits);
        const raw = JSON.parse(text) as Record<string, unknown>;
        const whole = decodeEvent(JSON.parse(text), {}, { missingId });
        const fast = verbatimEvent(raw);
        // A `__proto__` key in an open object is left to zod (decodeEvent's verdict, and its copy).
        expect(fast !== null).toBe(whole.success && whole.verbatim && !protoKeyInOpenObject(raw));
        if (fast === null || !whole.success) return;
        expect(fast).toBe(raw);
        expect(exact({ type: fast.type, data: fast.data, id: fast.id, metadata: fast.metadata })).toBe(exact(whole.data));
        expect(exact(raw)).toBe(exact(JSON.parse(text)));
        seen.fast++;
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    expect(seen.fast).toBeGreaterThanOrEqual(FAIR_SHARE);
  });

  it('an event the compiled validator accepts shares the input\'s data and metadata; zod alone copies them', () => {
    const raw = JSON.parse(JSON.stringify(rich[0])) as { data: unknown; metadata: unknown };
    const fast = decodeEvent(raw, {}, { missingId });
    const zod = decodeEvent(raw, {}, { missingId, fast: false });
    expect(fast.success && zod.success).toBe(true);
    if (!fast.success || !zod.success) return;
    expect(fast.data).toStrictEqual(zod.data);
    expect(fast.data.data).toBe(raw.data);
    expect(fast.data.metadata).toBe(raw.metadata);
    expect(zod.data.data).not.toBe(raw.data);
    expect(fast.data).not.toBe(raw);
  });

  it('a `__proto__` key in metadata is left to zod, which drops it as it always did', () => {
    const text = '{"type":"AgentHeartbeat","id":"0b6f1c2e-1111-4222-8333-444455556666","data":{"agentId":"a"},"metadata":{"at":"2026-11-20T10:00:00Z","__proto__":{"x":1}}}';
    const raw = JSON.parse(text) as unknown;
    expect(validators.AgentHeartbeat(raw)).toBe(false);
    const r = decodeLine(text);
    expect(r.success && Object.keys(r.data.metadata)).toEqual(['at']);
    expect(summary(r)).toBe(summary(decodeLine(text, {}, { fast: false })));
  });
});
