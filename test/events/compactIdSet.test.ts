import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactIdSet, idHash } from '../../src/events/compactIdSet.js';
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

describe('CompactIdSet corners', () => {
  // Pairs found by search: each pair shares one 32-bit hash, so only the stored key tells them apart.
  const sameLength = ['agent-wxifcl', 'agent-kdybsp'];
  const otherLength = ['agent-33049', 'agent-625200'];
  const twoUuids = ['00004c96-0003-4000-8000-000000000000', '00001d30-0004-4000-8000-000000000000'];
  const stringAndUuid = ['agent-158320', '00002822-0000-4000-8000-000000000000'];

  it.each([sameLength, otherLength, twoUuids, stringAndUuid])('two ids sharing a hash are two ids: %j', (a, b) => {
    expect(idHash(a!)).toBe(idHash(b!));
    for (const [first, second] of [[a!, b!], [b!, a!]]) {
      const set = new CompactIdSet();
      expect(set.add(first!)).toBe(true);
      expect(set.has(second!)).toBe(false);
      expect(set.add(second!)).toBe(true);
      expect([set.has(first!), set.has(second!), set.size]).toEqual([true, true, 2]);
      const decoded = CompactIdSet.decode(set.encode());
      expect([decoded.has(first!), decoded.has(second!), decoded.size]).toEqual([true, true, 2]);
    }
  });

  // A UUID is kept as its 8 words, any other id as its code units: an id whose first 8 units are
  // those very words, found to share the UUID's hash, differs from it only in the record's header.
  const u = '5f0c2a1e-77aa-4bcd-8e9f-0123456789ab';
  const spelled = '\u5f0c\u2a1e\u77aa\u4bcd\u8e9f\u0123\u4567\u89ab';

  it.each([
    ['an id 11 units long', `${spelled}A\u0c58\u92a3`],
    // Its header's low word is 0 (65,535 + 1 = 0x10000).
    ['an id 65,535 units long', `${spelled}${'x'.repeat(65_524)}A\u2961\u0118`],
  ])('a UUID is not %s whose units spell its 16 bytes', (_, spelling) => {
    expect(idHash(spelling)).toBe(idHash(u));
    for (const [first, second] of [[u, spelling], [spelling, u]] as const) {
      const set = new CompactIdSet();
      expect(set.add(first)).toBe(true);
      expect(set.has(second)).toBe(false);
      expect(set.add(second)).toBe(true);
      expect([set.has(u), set.has(spelling), set.size]).toEqual([true, true, 2]);
    }
  });

  it("an id is not the UUID before it in the arena, even when its units spell the UUID's record and the next", () => {
    // The set's arena: the UUID's record (header 0 0, then its 8 words), then 'A\ufd16\ud569' (header 4 0).
    const next = 'A\ufd16\ud569';
    const spelling = `${spelled}\u0004\u0000${next}`;
    expect(idHash(spelling)).toBe(idHash(u));
    const set = new CompactIdSet();
    set.add(u);
    set.add(next);
    expect(set.has(spelling)).toBe(false);
    expect(CompactIdSet.decode(set.encode()).has(spelling)).toBe(false);
  });

  it('only a canonical 8-4-4-4-12 hex id is a UUID: near misses are ids of their own', () => {
    const u = '0b6f1c2e-1111-4222-8333-444455556666';
    const nearMisses = [
      `${u}x`,
      u.slice(0, 35),
      ...[8, 13, 18, 23].map((i) => `${u.slice(0, i)}0${u.slice(i + 1)}`),
      `${u.slice(0, 35)}g`,
      `${u.slice(0, 35)}h`,
      `${u.slice(0, 35)}\u0080`,
      `${u.slice(0, 35)}\u0100`,
      `${u.slice(0, 35)}/`,
      `${u.slice(0, 35)}:`,
    ];
    const set = new CompactIdSet();
    set.add(u);
    set.add(`${u.slice(0, 35)}0`);
    for (const id of nearMisses) expect([id, set.has(id)]).toEqual([id, false]);
    for (const id of nearMisses) expect(set.add(id)).toBe(true);
    expect(set.size).toBe(2 + nearMisses.length);
    expect(set.has(u.toUpperCase())).toBe(true);
    // Every hex digit in either case, at every place.
    for (const d of '0123456789abcdefABCDEF') {
      const id = d.repeat(8) + u.slice(8);
      const s = new CompactIdSet();
      s.add(id);
      expect(s.has(id.toLowerCase()) && s.has(id.toUpperCase())).toBe(true);
      expect(s.has(`${id.slice(0, 7)}-${id.slice(8)}`)).toBe(false);
    }
  });

  it('keeps the empty id, and ids whose length is a multiple of 65,536 minus one', () => {
    const ids = ['', 'y'.repeat(65_535), 'z'.repeat(131_071), 'w'];
    const set = new CompactIdSet(0);
    for (const id of ids) expect(set.add(id)).toBe(true);
    for (let i = 0; i < 20; i++) set.add(`grow-${i}`); // forces rehashes
    const decoded = CompactIdSet.decode(set.encode());
    for (const s of [set, decoded, set.clone()]) {
      expect(ids.map((id) => s.has(id))).toEqual([true, true, true, true]);
      expect(s.has('y'.repeat(65_534))).toBe(false);
      expect(s.size).toBe(24);
    }
    const lastEmpty = new CompactIdSet();
    lastEmpty.add('a');
    lastEmpty.add('');
    expect(CompactIdSet.decode(lastEmpty.encode()).has('')).toBe(true);
  });

  it('is sized up front: a set for 1,024 ids holds 1,024 UUIDs without growing, then grows by 1.5× (arena) and 2× (table)', () => {
    expect(new CompactIdSet(0).byteLength).toBe(16 * 2 * 4 + 64 * 2);
    expect(new CompactIdSet().byteLength).toBe(32 * 2 * 4 + 160 * 2);
    const set = new CompactIdSet(1024);
    const sized = 2048 * 2 * 4 + 10_240 * 2;
    expect(set.byteLength).toBe(sized);
    const hex = (n: number) => n.toString(16).padStart(12, '0');
    for (let i = 0; i < 1024; i++) set.add(`5f0c2a1e-77aa-4bcd-8e9f-${hex(i)}`);
    expect(set.byteLength).toBe(sized);
    expect(CompactIdSet.decode(set.encode()).byteLength).toBe(sized);
    set.add('5f0c2a1e-77aa-4bcd-8e9f-ffffffffffff');
    expect(set.byteLength).toBe(4096 * 2 * 4 + 15_360 * 2);
    // One long id grows the arena by 1.5× steps until it fits.
    const long = new CompactIdSet(0);
    long.add('x'.repeat(1000));
    expect(long.byteLength).toBe(16 * 2 * 4 + 1094 * 2);
    // A step that lands exactly on the words needed is the last: 94 units and a header are 96 = 64 × 1.5.
    const exact = new CompactIdSet(0);
    exact.add('x'.repeat(94));
    expect(exact.byteLength).toBe(16 * 2 * 4 + 96 * 2);
    // A clone keeps only the used part of the arena (but at least 64 words).
    expect(long.clone().byteLength).toBe(16 * 2 * 4 + 1002 * 2);
    expect(new CompactIdSet(1000).clone().byteLength).toBe(2048 * 2 * 4 + 64 * 2);
  });

  it('a clone and its original go their own ways', () => {
    const a = new CompactIdSet();
    for (let i = 0; i < 5; i++) a.add(`base-${i}`);
    const b = a.clone();
    for (let i = 0; i < 50; i++) {
      a.add(`only-a-${i}`);
      b.add(`only-b-${i}`);
    }
    for (let i = 0; i < 50; i++) {
      expect([a.has(`only-a-${i}`), a.has(`only-b-${i}`), b.has(`only-a-${i}`), b.has(`only-b-${i}`)]).toEqual([true, false, false, true]);
    }
    expect([a.size, b.size]).toEqual([55, 55]);
    expect(a.digest).not.toBe(b.digest);
  });

  it('a clone does not share its table: two sets filling their own tables to the brim still answer', () => {
    // 16 slots each, 8 ids each (the most before a rehash): a shared table would be full.
    const a = new CompactIdSet(0);
    const b = a.clone();
    for (let i = 0; i < 8; i++) {
      a.add(`a${i}`);
      b.add(`b${i}`);
    }
    expect([a.byteLength, b.byteLength]).toEqual([16 * 2 * 4 + 64 * 2, 16 * 2 * 4 + 64 * 2]);
    for (const probe of ['absent', 'b0', 'a0x', 'zz']) expect(a.has(probe)).toBe(false);
    for (const probe of ['absent', 'a0', 'b0x', 'zz']) expect(b.has(probe)).toBe(false);
  });

  it('decodes a large set exactly (the table is sized from the records)', () => {
    const set = new CompactIdSet(0);
    for (let i = 0; i < 3000; i++) set.add(i % 2 ? `id-${i}` : `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
    const decoded = CompactIdSet.decode(set.encode());
    expect(decoded.size).toBe(3000);
    expect(decoded.digest).toBe(set.digest);
    for (let i = 0; i < 3000; i += 7) expect(decoded.has(i % 2 ? `id-${i}` : `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`)).toBe(true);
    expect(decoded.has('id-3001')).toBe(false);
  });

  it('names what is wrong with text that is not a set', () => {
    expect(() => CompactIdSet.decode('AAEC')).toThrow('id set: odd byte length');
    expect(() => CompactIdSet.decode(Buffer.from(new Uint16Array([5, 0, 65]).buffer).toString('base64'))).toThrow('id set: truncated record');
    expect(() => CompactIdSet.decode(Buffer.from(new Uint16Array([0, 0, 1]).buffer).toString('base64'))).toThrow('id set: truncated record');
    expect(CompactIdSet.decode('').size).toBe(0);
  });
});
