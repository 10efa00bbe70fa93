import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CORRECTION_NAMESPACE, correctionId } from '../../src/reconcile/correctionId.js';
import { runs } from '../support/runs.js';

// The vectors below were computed outside this code base (Python's uuid.uuid5 under the namespace,
// over the JSON array ["rollcall-correction/v1", rule, agentId, sessionId, pid, fact]). They pin the
// id format: changing it would make a new release re-append every correction an old one stored.
describe('correctionId: fixed vectors', () => {
  it.each([
    [{ rule: 'dead-pid', agentId: 'a1', sessionId: 's1', pid: 42, fact: '2026-11-20T10:00:01.000Z' }, 'f4c8d5a3-460a-54d3-ac2e-a1dcc2ecde53'],
    [{ rule: 'agent-disconnected', agentId: 'a1', sessionId: 's1', pid: null, fact: '2026-11-20T10:00:01.000Z' }, 'a806a79c-bb16-5b9c-9483-16e7f9fb82ee'],
    [{ rule: 'stuck-terminating', agentId: 'a1', sessionId: 's1', pid: 42, fact: '2026-11-20T10:01:40.000Z' }, '7c8962fa-a0ac-5459-b558-f75a4a410c8d'],
    [{ rule: 'start-timeout', agentId: 'a1', sessionId: 's1', pid: null, fact: null }, '8056fb6d-8e22-52b6-b14b-d9603f0a3a44'],
    [{ rule: 'dead-pid', agentId: 'ä"\\', sessionId: 'sé', pid: 2_147_483_647, fact: null }, 'd98bfefb-cae6-51d8-aefd-6a3d09dd53fb'],
  ])('%j → %s', (parts, id) => {
    expect(correctionId(parts)).toBe(id);
  });

  it('hashes under the reconciler namespace', () => {
    expect(CORRECTION_NAMESPACE).toBe('5b7e2c1a-9f3d-4e8b-a6c2-0d41f7e3b985');
  });
});

describe('correctionId: a function of its parts only', () => {
  const part = fc.string({ maxLength: 12 });
  const parts = fc.record({
    rule: fc.constantFrom('dead-pid', 'agent-disconnected', 'stuck-terminating', 'start-timeout'),
    agentId: part,
    sessionId: part,
    pid: fc.option(fc.integer({ min: 1, max: 2_147_483_647 })),
    fact: fc.option(part),
  });

  it('the same parts give the same version-5 UUID, whatever else is around them', () =>
    fc.assert(
      fc.property(parts, (p) => {
        const id = correctionId(p);
        expect(correctionId({ ...p })).toBe(id);
        expect(correctionId({ ...p, extra: 'ignored' } as typeof p)).toBe(id);
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      }),
      { numRuns: runs(200) },
    ));

  it('any one differing part gives a different id', () =>
    fc.assert(
      fc.property(parts, fc.constantFrom('rule', 'agentId', 'sessionId', 'pid', 'fact'), part, (a, key, other) => {
        const changed = { ...a };
        if (key === 'pid') changed.pid = a.pid === null ? 1 : a.pid === 1 ? 2 : null;
        else if (key === 'fact') changed.fact = a.fact === null ? other : null;
        else if (key === 'rule') changed.rule = a.rule === 'dead-pid' ? 'start-timeout' : 'dead-pid';
        else changed[key] = a[key] === other ? `${other}x` : other;
        expect(correctionId(changed)).not.toBe(correctionId(a));
      }),
      { numRuns: runs(200) },
    ));

  it('the parts cannot run into each other (no separator ambiguity)', () => {
    const base = { rule: 'dead-pid', pid: 1, fact: 'f' };
    const ids = [
      correctionId({ ...base, agentId: 'a-b', sessionId: 'c' }),
      correctionId({ ...base, agentId: 'a', sessionId: 'b-c' }),
      correctionId({ ...base, agentId: 'a","b', sessionId: 'c' }),
      correctionId({ ...base, agentId: 'a', sessionId: 'b","c' }),
    ];
    expect(new Set(ids).size).toBe(4);
  });

  it('null is not the string "null", nor 0, nor the empty string', () => {
    const base = { rule: 'start-timeout', agentId: 'a1', sessionId: 's1' };
    const ids = [
      correctionId({ ...base, pid: null, fact: null }),
      correctionId({ ...base, pid: null, fact: 'null' }),
      correctionId({ ...base, pid: null, fact: '' }),
      correctionId({ ...base, pid: 0, fact: null }),
    ];
    expect(new Set(ids).size).toBe(4);
  });
});
