import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEvent, decodeLine } from '../../src/events/decodeEvent.js';
import { compileAcceptor } from '../../src/events/fastAcceptor.js';
import { EventEnvelope, LifecycleEventBody } from '../../src/events/lifecycleEvents.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { runs } from '../support/runs.js';

const at = '2026-11-20T10:00:00.000Z';

describe('upcasting older stored shapes', () => {
  it('a v0 SessionTerminated is read as SessionEnded with its reason', () => {
    const r = decodeEvent({ type: 'SessionTerminated', data: { agentId: 'a1', sessionId: 's1', terminationReason: 'done' }, metadata: { at } });
    expect(r.success && r.data).toMatchObject({ type: 'SessionEnded', data: { agentId: 'a1', sessionId: 's1', reason: 'done' } });
  });

  it('a v0 AgentRegistered with a type key is read as role and variant', () => {
    const r = decodeEvent({ type: 'AgentRegistered', data: { agentId: 'a1', type: 'worker:ephemeral' }, metadata: { at } });
    expect(r.success && r.data.data).toEqual({ agentId: 'a1', role: 'worker', variant: 'ephemeral' });
  });

  it('an upcast event is still validated: a bad old shape is rejected, naming the field', () => {
    const r = decodeEvent({ type: 'SessionTerminated', data: { agentId: 'a1', sessionId: 's1' }, metadata: { at } }, { position: 7n });
    expect(r.success).toBe(false);
    expect(!r.success && r.error.message).toBe('position 7: data.reason: Invalid input: expected string, received undefined');
  });
});

describe('the fast acceptor never accepts what zod rejects', () => {
  const schemas = LifecycleEventBody.options.map((b) => b.extend({ id: EventEnvelope.shape.id, metadata: EventEnvelope.shape.metadata }));

  // Valid events, then mutated: fields dropped, retyped, nulled, extra keys, bad ids and times.
  const mutation = fc.oneof(
    fc.constant((o: any) => o),
    fc.constant((o: any) => ({ ...o, data: { ...o.data, extra: 1 } })),
    fc.constant((o: any) => ({ ...o, extra: 1 })),
    fc.constant((o: any) => ({ ...o, metadata: { ...o.metadata, at: String(o.metadata?.at).replace('Z', '') } })),
    fc.constant((o: any) => ({ ...o, metadata: { ...o.metadata, at: '2026-02-30T10:00:00Z' } })),
    fc.constant((o: any) => ({ ...o, metadata: { ...o.metadata, note: 'loose metadata keeps it' } })),
    fc.constant((o: any) => ({ ...o, id: 'not-a-uuid' })),
    fc.constant((o: any) => ({ ...o, id: '00000000-0000-4000-8000-00000000000g' })),
    fc.constant((o: any) => ({ ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).slice(1)) })),
    fc.constant((o: any) => ({ ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, typeof v === 'number' ? -v : v])) })),
    fc.constant((o: any) => ({ ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, typeof v === 'number' ? v + 0.5 : v])) })),
    fc.constant((o: any) => ({ ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, v === '' ? v : typeof v === 'string' ? '' : v])) })),
    fc.constant((o: any) => ({ ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).map(([k]) => [k, null])) })),
    fc.constant((o: any) => ({ ...o, data: [o.data] })),
    fc.constant((o: any) => ({ ...o, metadata: null })),
  );

  it('for random valid and mutated events', () => {
    let accepted = 0;
    fc.assert(
      fc.property(arbitraryHistory({ maxLength: 20 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (events, mutations) => {
        for (const e of events) {
          const candidate = mutations.reduce((o, m) => m(o), JSON.parse(JSON.stringify(e)));
          const schema = schemas.find((s) => s.shape.type.value === e.type)!;
          if (compileAcceptor(schema)(candidate)) {
            accepted++;
            const zod = schema.safeParse(candidate);
            expect(zod.success).toBe(true);
            expect(zod.data).toEqual(candidate);
          }
        }
      }),
      { numRuns: runs(300) },
    );
    // The fast path is actually taken for well-formed events (a count only the full 300 runs make
    // certain; the capped runs of `npm run mutate` may draw only damaged events).
    if (runs(300) === 300) expect(accepted).toBeGreaterThan(100);
  });

  it('decodeLine gives the same event through the fast path as through zod', () => {
    const line = JSON.stringify({ id: '0b6f1c2e-1111-4222-8333-444455556666', type: 'AgentSpawned', data: { agentId: 'a', sessionId: 's', pid: 3 }, metadata: { at, source: 'x' } });
    const r = decodeLine(line);
    const schema = schemas.find((s) => s.shape.type.value === 'AgentSpawned')!;
    expect(r.success && r.data).toEqual(schema.parse(JSON.parse(line)));
  });
});

describe('parseIsoMs', () => {
  it('equals Date.parse on any valid time and on malformed ones', async () => {
    const { parseIsoMs } = await import('../../src/events/parseIsoMs.js');
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }), fc.string({ maxLength: 3 }), fc.nat(23), (d, junk, at) => {
        const iso = d.toISOString();
        expect(parseIsoMs(iso)).toBe(Date.parse(iso));
        const broken = iso.slice(0, at) + junk + iso.slice(at + junk.length);
        expect(Object.is(parseIsoMs(broken), Date.parse(broken))).toBe(true);
      }),
      { numRuns: runs(2000) },
    );
    expect(parseIsoMs('2026-11-20T10:00:00+02:00')).toBe(Date.parse('2026-11-20T10:00:00+02:00'));
  });
});

describe('hand-checked formats are subsets of zod’s patterns', () => {
  it('uuid and UTC-millisecond datetimes', async () => {
    const { looksLikeUuid, looksLikeUtcMillis } = await import('../../src/events/fastAcceptor.js');
    const { regexes } = await import('zod');
    const uuid = regexes.uuid();
    const datetime = regexes.datetime({ offset: true, local: false, precision: null });
    const hexish = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg-'.split('')), minLength: 36, maxLength: 36 });
    fc.assert(
      fc.property(fc.oneof(fc.uuid(), hexish, fc.string()), (s) => {
        if (looksLikeUuid(s)) expect(uuid.test(s)).toBe(true);
      }),
      { numRuns: runs(3000) },
    );
    const digitsish = fc.string({ unit: fc.constantFrom(...'0123456789-T:.Z'.split('')), minLength: 24, maxLength: 24 });
    fc.assert(
      fc.property(fc.oneof(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('9999-12-31') }).map((d) => d.toISOString()), digitsish), (s) => {
        if (looksLikeUtcMillis(s)) expect(datetime.test(s)).toBe(true);
        if (datetime.test(s) && s.length === 24 && s.endsWith('Z')) expect(looksLikeUtcMillis(s)).toBe(true);
      }),
      { numRuns: runs(5000) },
    );
    expect(looksLikeUtcMillis('2028-02-29T00:00:00.000Z')).toBe(true);
    expect(looksLikeUtcMillis('2100-02-29T00:00:00.000Z')).toBe(false);
  });
});

describe('the zod the fast acceptor was written against', () => {
  it('is the exact version package.json pins (the acceptor reads zod internals)', async () => {
    const { readFileSync } = await import('node:fs');
    const root = new URL('../../', import.meta.url);
    const pinned = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { dependencies: Record<string, string> }).dependencies['zod'];
    const installed = (JSON.parse(readFileSync(new URL('node_modules/zod/package.json', root), 'utf8')) as { version: string }).version;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(pinned);
  });
});
