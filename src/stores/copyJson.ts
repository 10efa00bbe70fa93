/** Thrown (and caught) inside `copyJson` when a value needs JSON's own treatment. */
const NOT_PLAIN = Symbol('not plain JSON');

const copyPlain = (v: unknown): unknown => {
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw NOT_PLAIN;
    return v === 0 ? 0 : v; // -0 is written as 0
  }
  if (typeof v !== 'object') throw NOT_PLAIN;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = copyPlain(v[i]);
    return out;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype || 'toJSON' in v) throw NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined) continue;
    // An own "__proto__" key would set the copy's prototype here; JSON.parse makes it a plain key.
    if (k === '__proto__') throw NOT_PLAIN;
    out[k] = copyPlain(x);
  }
  return out;
};

/**
 * What `JSON.parse(JSON.stringify(v))` gives, without the text in between for the plain data events
 * carry (plain objects, arrays, strings, finite numbers, booleans, null): the memory store copies
 * every appended event so that no reader aliases a producer's object, and the round trip was most
 * of an append's cost. Anything else (a toJSON or a Date, undefined in an array, a non-finite
 * number, a class instance, a bigint) takes the round trip itself, so the result is always JSON's.
 */
export const copyJson = (v: unknown): unknown => {
  try {
    return copyPlain(v);
  } catch (e) {
    if (e !== NOT_PLAIN) throw e;
    return JSON.parse(JSON.stringify(v)) as unknown;
  }
};
