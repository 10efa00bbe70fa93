import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEvent, decodeLine } from '../../src/events/decodeEvent.js';
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

describe('verbatim: the decoded event is exactly what the input said', () => {
  // Valid events, then mutated: fields dropped, retyped, nulled, extra keys, bad ids and times.
  const mutation = fc.oneof(
    fc.constant((o: any) => o),
    fc.constant((o: any) => ({ ...o, data: { ...o.data, extra: 1 } })),
    fc.constant((o: any) => ({ ...o, extra: 1 })),
    fc.constant((o: any) => ({ ...o, metadata: { ...o.metadata, at: String(o.metadata?.at).replace('Z', '') } })),
    fc.constant((o: any) => ({ ...o, metadata: { ...o.metadata, note: 'loose metadata keeps it' } })),
    fc.constant((o: any) => ({ ...o, id: 'not-a-uuid' })),
    fc.constant((o: any) => ({ ...o, id: String(o.id).toUpperCase() })),
    fc.constant((o: any) => { const { id: _, ...rest } = o; return rest; }),
    fc.constant((o: any) => ({ ...o, type: 'SessionTerminated', data: { agentId: 'a', sessionId: 's', terminationReason: 'done' } })),
    fc.constant((o: any) => ({ ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).slice(1)) })),
    fc.constant((o: any) => ({ ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, typeof v === 'number' ? v + 0.5 : v])) })),
    fc.constant((o: any) => ({ ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).map(([k]) => [k, null])) })),
  );

  it('when verbatim, the JSON text of the input decodes to an equal event (the worker hands that text on)', () => {
    let verbatim = 0;
    let rewritten = 0;
    fc.assert(
      fc.property(arbitraryHistory({ maxLength: 20 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (events, mutations) => {
        for (const e of events) {
          const text = JSON.stringify(mutations.reduce((o, m) => m(o), JSON.parse(JSON.stringify(e))));
          const r = decodeLine(text, {}, { missingId: () => '0b6f1c2e-1111-4222-8333-444455556666' });
          if (!r.success) continue;
          if (r.verbatim) {
            verbatim++;
            expect(r.data).toEqual(JSON.parse(text));
          } else {
            rewritten++;
            expect(r.data).not.toEqual(JSON.parse(text));
          }
        }
      }),
      { numRuns: runs(300) },
    );
    // Both branches are drawn (a count only the full 300 runs make certain).
    if (runs(300) === 300) expect(Math.min(verbatim, rewritten)).toBeGreaterThan(50);
  });

  it('an upcast, an uppercase id and a filled-in id are not verbatim; a plain valid event is', () => {
    const id = '0B6F1C2E-1111-4222-8333-444455556666';
    const base = { type: 'AgentSpawned', data: { agentId: 'a', sessionId: 's', pid: 3 }, metadata: { at, source: 'x' } };
    const plain = decodeEvent({ ...base, id: id.toLowerCase() });
    expect(plain.success && plain.verbatim).toBe(true);
    const upper = decodeEvent({ ...base, id });
    expect(upper.success && [upper.verbatim, upper.data.id]).toEqual([false, id.toLowerCase()]);
    const filled = decodeEvent(base, {}, { missingId: () => 'fixed' });
    expect(filled.success && [filled.verbatim, filled.data.id]).toEqual([false, 'fixed']);
    const upcast = decodeEvent({ id: id.toLowerCase(), type: 'SessionTerminated', data: { agentId: 'a', sessionId: 's', terminationReason: 'r' }, metadata: { at } });
    expect(upcast.success && [upcast.verbatim, upcast.data.type]).toEqual([false, 'SessionEnded']);
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
