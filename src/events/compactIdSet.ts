/**
 * An exact set of ids held in typed arrays: a UUID costs 20 bytes of arena plus its slot (offset
 * and hash, 8 bytes, at most half the slots used: 28–36 bytes in all), any other id two bytes per
 * UTF-16 unit plus the same, instead of a JS string in a Set (tens of bytes of string plus the
 * Set's entry). Every hit is verified against
 * the stored key, so no two distinct ids are ever confused.
 *
 * Ids are stored in an arena of 16-bit words, one record each: a two-word header, then the key. A
 * canonical UUID (hex digits in either case) is kept as its 16 bytes (header 0), so ids that differ
 * only in the case of their hex digits are the same id; any other id is kept as its code units
 * (header = length + 1). The open-addressing table holds (arena offset + 1, hash) pairs (0 = empty).
 *
 * It is a class, not a factory, on purpose: immer and `structuredClone` treat it as one opaque
 * value, so whoever changes one inside an immer `produce()` must `clone()` it first (the lifecycle
 * projection does, once per produce); an owned state changes it in place.
 */
export class CompactIdSet {
  /** Ids in the set. */
  size = 0;
  /** An order-independent digest of the contents, so that deep-equality of two sets compares contents. */
  digest = 0;
  #table: Int32Array;
  #arena: Uint16Array;
  #used = 0;

  constructor(capacity = 16) {
    let slots = 16;
    while (slots * LOAD < capacity) slots *= 2;
    this.#table = new Int32Array(2 * slots);
    this.#arena = new Uint16Array(Math.max(64, capacity * 10));
  }

  /** True when the id is in the set. */
  has(id: string): boolean {
    const uuid = parseUuid(id);
    return this.#find(id, uuid, hashOf(uuid, id)) >= 0;
  }

  /** Adds the id; false when it was already there. */
  add(id: string): boolean {
    const uuid = parseUuid(id);
    const hash = hashOf(uuid, id);
    const slot = this.#find(id, uuid, hash);
    if (slot >= 0) return false;
    const words = uuid ? 10 : id.length + 2;
    this.#reserve(words);
    const at = this.#used;
    const a = this.#arena;
    if (uuid) {
      a[at] = 0;
      a[at + 1] = 0;
      // Stryker disable next-line EqualityOperator: one more turn writes SCRATCH[8] (undefined, stored as 0) one word past the record, where the arena is still 0
      for (let i = 0; i < 8; i++) a[at + 2 + i] = SCRATCH[i]!;
    } else {
      const header = id.length + 1;
      a[at] = header & 0xffff;
      a[at + 1] = header >>> 16;
      // Stryker disable next-line EqualityOperator: one more turn writes charCodeAt past the end (NaN, stored as 0) one word past the record, where the arena is still 0
      for (let i = 0; i < id.length; i++) a[at + 2 + i] = id.charCodeAt(i);
    }
    this.#used += words;
    this.#table[2 * ~slot] = at + 1;
    this.#table[2 * ~slot + 1] = hash;
    this.size++;
    this.digest = (this.digest + mix(hash ^ 0x5bd1e995)) | 0;
    if (this.size > (this.#table.length >> 1) * LOAD) this.#rehash(this.#table.length);
    return true;
  }

  /** Bytes held (table and arena, spare room included). */
  get byteLength(): number {
    return this.#table.byteLength + this.#arena.byteLength;
  }

  /** An independent copy. */
  clone(): CompactIdSet {
    const copy = new CompactIdSet(0);
    copy.size = this.size;
    copy.digest = this.digest;
    copy.#table = this.#table.slice();
    copy.#arena = this.#arena.slice(0, Math.max(64, this.#used));
    copy.#used = this.#used;
    return copy;
  }

  /** The set as text (base64 of the arena), for snapshots. */
  encode(): string {
    const bytes = new Uint8Array(this.#arena.buffer, this.#arena.byteOffset, this.#used * 2);
    return Buffer.from(bytes).toString('base64');
  }

  /** Rebuilds a set from `encode`'s text; throws on text that is not one. */
  static decode(text: string): CompactIdSet {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length % 2 !== 0) throw new Error('id set: odd byte length');
    const words = new Uint16Array(bytes.length / 2);
    new Uint8Array(words.buffer).set(bytes);
    const set = new CompactIdSet(0);
    // Stryker disable next-line EqualityOperator: a 64-word arena copied into a new 64-word array holds the same words
    set.#arena = words.length >= 64 ? words : (() => { const a = new Uint16Array(64); a.set(words); return a; })();
    set.#used = words.length;
    let n = 0;
    for (let at = 0; at < words.length; at += recordWords(words, at)) {
      if (at + 2 > words.length || at + recordWords(words, at) > words.length) throw new Error('id set: truncated record');
      n++;
    }
    let slots = 16;
    while (slots * LOAD < n) slots *= 2;
    set.#table = new Int32Array(2 * slots);
    set.#reindex();
    return set;
  }

  /** Slot of the id (≥ 0) or the one's complement of the empty slot where it would go. */
  #find(id: string, uuid: boolean, hash: number): number {
    const table = this.#table;
    const mask = (table.length >> 1) - 1;
    const a = this.#arena;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = table[2 * i]!;
      if (entry === 0) return ~i;
      // The stored hash settles nearly every mismatch without touching the arena.
      // Stryker disable next-line ConditionalExpression: only saves work; the header and key comparisons below decide alone
      if (table[2 * i + 1] !== hash) continue;
      const at = entry - 1;
      if (uuid) {
        if (a[at] !== 0 || a[at + 1] !== 0) continue;
        let same = true;
        for (let k = 0; k < 8; k++) if (a[at + 2 + k] !== SCRATCH[k]) { same = false; break; }
        if (same) return i;
      } else {
        if (a[at]! + a[at + 1]! * 0x10000 !== id.length + 1) continue;
        let same = true;
        for (let k = 0; k < id.length; k++) if (a[at + 2 + k] !== id.charCodeAt(k)) { same = false; break; }
        if (same) return i;
      }
    }
  }

  #reserve(words: number): void {
    if (this.#used + words <= this.#arena.length) return;
    // 1.5×: the arena is most of the memory, and it only ever grows.
    let size = Math.ceil(this.#arena.length * 1.5);
    while (size < this.#used + words) size = Math.ceil(size * 1.5);
    const next = new Uint16Array(size);
    next.set(this.#arena.subarray(0, this.#used));
    this.#arena = next;
  }

  /** Moves every entry to a table of `slots` slots, with the hash it was filed under (no arena read). */
  #rehash(slots: number): void {
    const old = this.#table;
    const table = new Int32Array(2 * slots);
    const mask = slots - 1;
    for (let j = 0; j < old.length; j += 2) {
      const entry = old[j]!;
      if (entry === 0) continue;
      const hash = old[j + 1]!;
      let i = hash & mask;
      while (table[2 * i] !== 0) i = (i + 1) & mask;
      table[2 * i] = entry;
      table[2 * i + 1] = hash;
    }
    this.#table = table;
  }

  /** Puts every arena record into the (empty) table, in arena order. */
  #reindex(): void {
    const a = this.#arena;
    const table = this.#table;
    const mask = (table.length >> 1) - 1;
    let size = 0;
    let digest = 0;
    for (let at = 0; at < this.#used; at += recordWords(a, at)) {
      const hash = a[at] === 0 && a[at + 1] === 0 ? hashWords(a, at + 2) : hashUnits(a, at + 2, a[at]! + a[at + 1]! * 0x10000 - 1);
      let i = hash & mask;
      while (table[2 * i] !== 0) i = (i + 1) & mask;
      table[2 * i] = at + 1;
      table[2 * i + 1] = hash;
      size++;
      digest = (digest + mix(hash ^ 0x5bd1e995)) | 0;
    }
    this.size = size;
    this.digest = digest;
  }
}

const LOAD = 0.5;
/** The 8 words of the UUID most recently parsed (one id is handled at a time; no allocation per id). */
const SCRATCH = new Uint16Array(8);

const recordWords = (a: Uint16Array, at: number): number => {
  const header = a[at]! + a[at + 1]! * 0x10000;
  return header === 0 ? 10 : header + 1;
};

/** Hex digit value by char code (either case), -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;
const hexValue = (c: number): number => (c < 128 ? HEX[c]! : -1);

/** Four hex digits from `at` as one word, or a negative number when one is not a hex digit. */
const hex4 = (id: string, at: number): number =>
  (hexValue(id.charCodeAt(at)) << 12) | (hexValue(id.charCodeAt(at + 1)) << 8) | (hexValue(id.charCodeAt(at + 2)) << 4) | hexValue(id.charCodeAt(at + 3));

/** Parses a canonical UUID (8-4-4-4-12 hex digits) into SCRATCH; false when the id is not one. */
const parseUuid = (id: string): boolean => {
  if (id.length !== 36) return false;
  if (id.charCodeAt(8) !== 45 || id.charCodeAt(13) !== 45 || id.charCodeAt(18) !== 45 || id.charCodeAt(23) !== 45) return false;
  // A -1 (not a digit) shifted and or-ed in leaves the word negative.
  const w0 = hex4(id, 0);
  const w1 = hex4(id, 4);
  const w2 = hex4(id, 9);
  const w3 = hex4(id, 14);
  const w4 = hex4(id, 19);
  const w5 = hex4(id, 24);
  const w6 = hex4(id, 28);
  const w7 = hex4(id, 32);
  if ((w0 | w1 | w2 | w3 | w4 | w5 | w6 | w7) < 0) return false;
  SCRATCH[0] = w0;
  SCRATCH[1] = w1;
  SCRATCH[2] = w2;
  SCRATCH[3] = w3;
  SCRATCH[4] = w4;
  SCRATCH[5] = w5;
  SCRATCH[6] = w6;
  SCRATCH[7] = w7;
  return true;
};

/** murmur3's finalizer: spreads every input bit over the whole word. */
const mix = (h: number): number => {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
};

/** The hash of the 8 words of a UUID at `from`. */
const hashWords = (w: Uint16Array, from: number): number => {
  let h = 0x9747b28c;
  for (let i = from; i < from + 8; i += 2) h = mix(h ^ (w[i]! | (w[i + 1]! << 16)));
  return h;
};

/** The 32-bit hash an id is filed under (exported for the tests that need two ids sharing one). */
export const idHash = (id: string): number => hashOf(parseUuid(id), id);

/** The hash of an id just given to `parseUuid` (which left a UUID's words in SCRATCH). */
const hashOf = (uuid: boolean, id: string): number => (uuid ? hashWords(SCRATCH, 0) : hashString(id));

/** FNV-1a over code units, finalized. */
const hashString = (s: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix(h);
};

const hashUnits = (a: Uint16Array, from: number, length: number): number => {
  let h = 0x811c9dc5;
  for (let i = from; i < from + length; i++) h = Math.imul(h ^ a[i]!, 0x01000193);
  return mix(h);
};
