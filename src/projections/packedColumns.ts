/*
 * Columns for snapshot encodings that load faster than JSON records: every string once in a table
 * (a JSON array), everything else as typed arrays carried as base64 text. A snapshot stays one JSON
 * text (a store keeps it as text, under its checksum), but decoding it allocates only the distinct
 * strings and the records themselves: no array per record, no copy of an id for every place that
 * names it, no number parsed digit by digit. Typed arrays are written little-endian on every machine.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Base64 of a typed array's bytes, little-endian. */
const bytesOf = (a: Int32Array | Float64Array): string => {
  if (LITTLE_ENDIAN) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  const view = new DataView(new ArrayBuffer(a.byteLength));
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Int32Array) view.setInt32(4 * i, a[i]!, true);
    else view.setFloat64(8 * i, a[i]!, true);
  }
  return Buffer.from(view.buffer).toString('base64');
};

/** The bytes of base64 `text`, in a buffer of its own (aligned for any typed array), checked to be `width` × `length` long. */
const unpack = (text: unknown, width: number, length: number): ArrayBuffer => {
  if (typeof text !== 'string') throw new Error('packed column is not text');
  const decoded = Buffer.from(text, 'base64');
  if (decoded.byteLength !== width * length) throw new Error(`packed column holds ${decoded.byteLength} bytes, not ${width * length}`);
  const own = new ArrayBuffer(decoded.byteLength);
  new Uint8Array(own).set(decoded);
  return own;
};

export const packInt32 = (a: Int32Array): string => bytesOf(a);
export const packFloat64 = (a: Float64Array): string => bytesOf(a);

export const unpackInt32 = (text: unknown, length: number): Int32Array => {
  const own = unpack(text, 4, length);
  if (LITTLE_ENDIAN) return new Int32Array(own);
  const view = new DataView(own);
  return Int32Array.from({ length }, (_, i) => view.getInt32(4 * i, true));
};

export const unpackFloat64 = (text: unknown, length: number): Float64Array => {
  const own = unpack(text, 8, length);
  if (LITTLE_ENDIAN) return new Float64Array(own);
  const view = new DataView(own);
  return Float64Array.from({ length }, (_, i) => view.getFloat64(8 * i, true));
};

/** Numbers or null in a Float64 column: null as NaN (JSON has no NaN, so no number is mistaken for it). */
export const numberOrNaN = (n: number | null): number => (n === null ? NaN : n);
export const nanOrNumber = (n: number): number | null => (Number.isNaN(n) ? null : n);

/** Interns strings while encoding: each distinct one gets an index in `strings` (null is -1). */
export class StringTable {
  readonly strings: string[] = [];
  readonly #index = new Map<string, number>();

  ref(s: string | null): number {
    if (s === null) return -1;
    let i = this.#index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.#index.set(s, i);
    }
    return i;
  }
}

// Strings joined by DEL, each after one: split in one call, where parsing an array of them costs
// about twice as much. A table with a DEL in any string is kept as an array instead.
const SEP = '\x7f';

/** The table as a snapshot carries it: one string of DEL-prefixed strings, or an array when one of them holds a DEL. */
export const packStrings = (strings: readonly string[]): string | string[] =>
  strings.some((s) => s.includes(SEP)) ? [...strings] : strings.length === 0 ? '' : SEP + strings.join(SEP);

/** Reads a table back: `at(i)` is the string of index `i`, null for -1; anything else is an error. */
export const readStringTable = (packed: unknown): ((i: number) => string | null) => {
  let table: string[];
  if (typeof packed === 'string') table = packed === '' ? [] : packed.slice(1).split(SEP);
  else if (Array.isArray(packed) && packed.every((s) => typeof s === 'string')) table = packed as string[];
  else throw new Error('string table is neither text nor an array of strings');
  return (i) => {
    if (i === -1) return null;
    const s = table[i];
    if (s === undefined) throw new Error(`string index ${i} is outside the table`);
    return s;
  };
};
