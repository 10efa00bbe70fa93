import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyJson } from '../../src/stores/copyJson.js';

const viaText = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

describe('copyJson: what a JSON round trip gives, without the text', () => {
  it('property: equals JSON.parse(JSON.stringify(v)) for any JSON value, key order included, and shares no object with it', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const copy = copyJson(v);
        expect(JSON.stringify(copy)).toBe(JSON.stringify(viaText(v)));
        expect(copy).toStrictEqual(viaText(v));
        if (v !== null && typeof v === 'object') expect(copy).not.toBe(v);
      }),
      { numRuns: 500 },
    );
  });

  it('property: anything JSON can serialize (undefined, Dates, non-finite numbers, holes, class instances, __proto__ keys) copies as JSON copies it', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const odd = fc.oneof(
      fc.anything({ withDate: true, withNullPrototype: true, withSparseArray: true, withObjectString: true, withBoxedValues: true }),
      fc.constantFrom(NaN, Infinity, new Point(1), { toJSON: () => 'custom' }, JSON.parse('{"__proto__":{"a":1}}') as unknown, [undefined, () => 1]),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), odd), (v) => {
        expect(JSON.stringify(copyJson(v))).toBe(JSON.stringify(viaText(v)));
      }),
      { numRuns: 500 },
    );
  });

  it('an own __proto__ key stays a plain key, as JSON.parse makes it', () => {
    const copy = copyJson(JSON.parse('{"__proto__":{"polluted":true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__']);
  });

  it('a nested object is a fresh copy: changing the original afterwards changes nothing in it', () => {
    const original = { a: { b: [1, { c: 'x' }] } };
    const copy = copyJson(original) as typeof original;
    (original.a.b[1] as { c: string }).c = 'changed';
    expect(copy).toEqual({ a: { b: [1, { c: 'x' }] } });
  });

  it('-0 becomes 0, as in JSON text', () => {
    expect(Object.is((copyJson([-0]) as number[])[0], 0)).toBe(true);
  });

  it('a bigint fails as JSON fails', () => {
    expect(() => copyJson({ n: 1n })).toThrow(TypeError);
  });
});
