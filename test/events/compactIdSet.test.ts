import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactIdSet } from '../../src/events/compactIdSet.js';
import { runs } from '../support/runs.js';

const uuid = fc.uuid();
const anyId = fc.oneof(
  uuid,
  uuid.map((u) => u.toUpperCase()),
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  fc.constantFrom('s-1', 's-2', '__proto__', 'constructor', '00000000-0000-4000-8000-00000000000g', '0'.repeat(36), 'x'.repeat(70_000)),
);
// Ids that differ only in the case of a UUID's hex digits are one id.
const canonical = (id: string) => (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? id.toLowerCase() : id);

describe('CompactIdSet', () => {
  it('behaves exactly like a Set of canonical ids, across growth, clone and encode/decode', () => {
    fc.assert(
      fc.property(fc.array(anyId, { maxLength: 300 }), fc.array(anyId, { maxLength: 50 }), (adds, probes) => {
        const set = new CompactIdSet();
        const model = new Set<string>();
        for (const id of adds) {
          expect(set.add(id)).toBe(!model.has(canonical(id)));
          model.add(canonical(id));
        }
        expect(set.size).toBe(model.size);
        const copy = set.clone();
        const decoded = CompactIdSet.decode(set.encode());
        for (const s of [set, copy, decoded]) {
          for (const id of [...adds, ...probes]) expect(s.has(id)).toBe(model.has(canonical(id)));
        }
        expect(decoded).toEqual(set);
        // A clone is independent.
        copy.add('only-in-the-copy');
        expect(set.has('only-in-the-copy')).toBe(model.has('only-in-the-copy'));
      }),
      { numRuns: runs(300) },
    );
  });

  it('sets with other contents are not deep-equal, sets with the same contents are', () => {
    const a = new CompactIdSet();
    const b = new CompactIdSet();
    for (const id of ['x', 'y']) a.add(id);
    for (const id of ['y', 'x']) b.add(id);
    expect(a).toEqual(b);
    b.add('z');
    const c = new CompactIdSet();
    for (const id of ['x', 'w']) c.add(id);
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(c);
  });

  // A 36-character id alone is a 56-byte JS string, before any Set entry or table slot.
  it('holds UUIDs in 20 bytes each encoded and under 56 bytes each in memory, spare room included', () => {
    const set = new CompactIdSet();
    const hex = (n: number) => n.toString(16).padStart(12, '0');
    for (let i = 0; i < 200_000; i++) set.add(`5f0c2a1e-77aa-4bcd-8e9f-${hex(i * 2654435761 % 2 ** 48)}`);
    expect(set.size).toBe(200_000);
    expect(Buffer.from(set.encode(), 'base64').length).toBe(20 * 200_000);
    expect(set.byteLength / set.size).toBeLessThan(56);
  });

  it('refuses text that is not an encoded set', () => {
    expect(() => CompactIdSet.decode('AAE')).toThrow(/id set/);
    expect(() => CompactIdSet.decode('AAEC')).toThrow(/id set/);
    expect(() => CompactIdSet.decode(Buffer.from(new Uint16Array([5, 0, 65]).buffer).toString('base64'))).toThrow(/truncated/);
  });
});
