import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runs } from '../support/runs.js';
import {
  nanOrNumber,
  numberOrNaN,
  packFloat64,
  packInt32,
  packStrings,
  readStringTable,
  StringTable,
  unpackFloat64,
  unpackInt32,
} from '../../src/projections/packedColumns.js';

// The columns of a snapshot: typed arrays as base64 of their little-endian bytes, strings interned
// once in a table. What a snapshot holds must read back exactly, and anything else must be refused.

describe('packed columns', () => {
  it('an Int32 column reads back exactly, and its text is the base64 of its little-endian bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), (xs) => {
        const a = Int32Array.from(xs);
        const text = packInt32(a);
        const bytes = Buffer.from(text, 'base64');
        expect(bytes.byteLength).toBe(4 * xs.length);
        xs.forEach((x, i) => expect(bytes.readInt32LE(4 * i)).toBe(x));
        expect([...unpackInt32(text, xs.length)]).toEqual(xs);
      }),
      { numRuns: runs(200) },
    );
  });

  it('a Float64 column reads back exactly (NaN stands for null)', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.double({ noNaN: true }), { nil: null })), (xs) => {
        const a = Float64Array.from(xs.map(numberOrNaN));
        const text = packFloat64(a);
        const bytes = Buffer.from(text, 'base64');
        expect(bytes.byteLength).toBe(8 * xs.length);
        expect([...unpackFloat64(text, xs.length)].map(nanOrNumber)).toEqual(xs);
      }),
      { numRuns: runs(200) },
    );
  });

  it('a column of another length, or not text, is refused', () => {
    const text = packInt32(Int32Array.from([1, 2, 3]));
    expect(() => unpackInt32(text, 4)).toThrow('packed column holds 12 bytes, not 16');
    expect(() => unpackInt32(text, 2)).toThrow('packed column holds 12 bytes, not 8');
    expect(() => unpackFloat64(text, 3)).toThrow('packed column holds 12 bytes, not 24');
    expect(() => unpackInt32(12, 3)).toThrow('packed column is not text');
    expect(() => unpackFloat64(null, 0)).toThrow('packed column is not text');
  });

  it('a column read back owns its bytes (the text it came from can go)', () => {
    const a = unpackFloat64(packFloat64(Float64Array.from([1.5, -2])), 2);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(16);
  });

  it('a string table reads back every interned string, null as -1', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.string({ unit: 'grapheme' }), { nil: null })), (xs) => {
        const table = new StringTable();
        const refs = xs.map((s) => table.ref(s));
        expect(new Set(table.strings).size).toBe(table.strings.length);
        const at = readStringTable(JSON.parse(JSON.stringify(packStrings(table.strings))));
        expect(refs.map(at)).toEqual(xs);
      }),
      { numRuns: runs(200) },
    );
  });

  it('a table is one DEL-prefixed text, an empty one is empty text, and one holding a DEL stays an array', () => {
    expect(packStrings([])).toBe('');
    expect(packStrings(['a', '', 'b'])).toBe('\x7fa\x7f\x7fb');
    expect(packStrings(['a', 'x\x7fy'])).toEqual(['a', 'x\x7fy']);
    const at = readStringTable(['a', 'x\x7fy']);
    expect([at(0), at(1), at(-1)]).toEqual(['a', 'x\x7fy', null]);
    expect(readStringTable('')(-1)).toBeNull();
  });

  it('a table of anything else, or an index outside it, is refused', () => {
    expect(() => readStringTable(['a', 1])).toThrow('string table is neither text nor an array of strings');
    expect(() => readStringTable(7)).toThrow('string table is neither text nor an array of strings');
    expect(() => readStringTable({ 0: 'a' })).toThrow('string table is neither text nor an array of strings');
    expect(() => readStringTable('\x7fa')(1)).toThrow('string index 1 is outside the table');
    expect(() => readStringTable('')(0)).toThrow('string index 0 is outside the table');
  });
});
