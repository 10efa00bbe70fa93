import { describe, expect, it } from 'vitest';
import { MAX_EVENT_DEPTH, storableIssue } from '../../src/events/storableIssue.js';

// What a store would refuse, found before anything is written: the first such thing, with its path.

const NUL = 'contains a NUL character (\\u0000), which PostgreSQL cannot store; no store accepts it';
const LONE = 'contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff escape), which is not text; no store accepts it';
const nest = (n: number, leaf: unknown = 1): unknown => (n === 0 ? leaf : { k: nest(n - 1, leaf) });
const list = (n: number, leaf: unknown = 1): unknown => (n === 0 ? leaf : [list(n - 1, leaf)]);

describe('storableIssue', () => {
  it('accepts what every store stores: text with any valid character, numbers, booleans, null', () => {
    expect(storableIssue({ a: 'é 😀 \u0001 \uffff', b: [1, true, null, 'x'], c: { d: '' } })).toBeNull();
    expect(storableIssue('\ud83d\ude00')).toBeNull();
    expect(storableIssue(42)).toBeNull();
    expect(storableIssue(null)).toBeNull();
  });

  it('names the first string with a NUL or a lone surrogate, in order', () => {
    expect(storableIssue('a\u0000')).toEqual({ path: '(event)', message: NUL });
    expect(storableIssue({ data: { ok: 'x', bad: 'y\u0000', later: '\ud800' } })).toEqual({ path: 'data.bad', message: NUL });
    expect(storableIssue({ data: { list: ['ok', ['fine', '\udc00']] } })).toEqual({ path: 'data.list[1][1]', message: LONE });
    expect(storableIssue(['\ud800x'])).toEqual({ path: '[0]', message: LONE });
    expect(storableIssue({ a: ['ok', 'ok', 'also\u0000'] })).toEqual({ path: 'a[2]', message: NUL });
  });

  it('names a bad key, quoted, with its parent path', () => {
    expect(storableIssue({ metadata: { ['k\u0000']: 1 } })).toEqual({ path: 'metadata."k\\u0000"', message: `a key that ${NUL}` });
    expect(storableIssue({ ['\ud800']: 1 })).toEqual({ path: '"\\ud800"', message: `a key that ${LONE}` });
    // The key is checked before its value.
    expect(storableIssue({ ['k\u0000']: 'v\u0000' })!.message).toBe(`a key that ${NUL}`);
  });

  it(`allows ${MAX_EVENT_DEPTH} levels (the envelope is level 1) and refuses one more, naming the top of the branch`, () => {
    expect(MAX_EVENT_DEPTH).toBe(64);
    expect(storableIssue(nest(MAX_EVENT_DEPTH))).toBeNull();
    expect(storableIssue(nest(MAX_EVENT_DEPTH + 1))).toEqual({ path: 'k.k…', message: 'nested deeper than 64 levels' });
    expect(storableIssue(list(MAX_EVENT_DEPTH))).toBeNull();
    expect(storableIssue(list(MAX_EVENT_DEPTH + 1))).toEqual({ path: '[0]…', message: 'nested deeper than 64 levels' });
    expect(storableIssue({ a: list(MAX_EVENT_DEPTH) })).toEqual({ path: 'a[0]…', message: 'nested deeper than 64 levels' });
    expect(storableIssue({ a: list(MAX_EVENT_DEPTH - 1) })).toBeNull();
    expect(storableIssue({ a: [...Array(12).fill(0), list(MAX_EVENT_DEPTH - 1)] })).toEqual({ path: 'a[12]…', message: 'nested deeper than 64 levels' });
    expect(storableIssue({ metadata: { deep: nest(70) } })).toEqual({ path: 'metadata.deep…', message: 'nested deeper than 64 levels' });
    // A deep string leaf at the limit is still looked at.
    expect(storableIssue(nest(MAX_EVENT_DEPTH, 'x\u0000'))).toEqual({ path: Array(MAX_EVENT_DEPTH).fill('k').join('.'), message: NUL });
  });

  it('goes through arrays and objects alike, past good elements', () => {
    expect(storableIssue({ a: [{ b: 'ok' }, { b: 'ok' }, { b: '\u0000' }] })).toEqual({ path: 'a[2].b', message: NUL });
    expect(storableIssue([[], {}, [[['\u0000']]]])).toEqual({ path: '[2][0][0][0]', message: NUL });
  });
});
