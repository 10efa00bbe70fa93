import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEvent, decodeLine, type DecodeResult } from '../../src/events/decodeEvent.js';
import { runs } from '../support/runs.js';

// The one-line messages a user reads for bad input, word for word: the CLI, the HTTP service and
// appendEvents all print these, so a changed word here is a changed contract.

const at = '2026-11-20T10:00:00.000Z';
const spawned = (data: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) => ({
  type: 'AgentSpawned',
  data: { agentId: 'a', sessionId: 's', pid: 1, ...data },
  metadata: { at, ...metadata },
});

const failure = (r: DecodeResult) => {
  if (r.success) throw new Error('expected a failure');
  const { code, message, line, index, position, path } = r.error;
  return { code, message, line, index, position, path };
};

describe('where a bad event is named', () => {
  it.each([
    [{}, 'event'],
    [{ line: 3 }, 'line 3'],
    [{ position: 7n }, 'position 7'],
    [{ index: 2 }, 'events[2]'],
    [{ line: 1, position: 2n, index: 3 }, 'line 1'],
    [{ position: 2n, index: 3 }, 'position 2'],
  ])('%o → %s, with the same fields set on the error', (src, named) => {
    const e = failure(decodeEvent(5, src));
    expect(e).toEqual({ code: 'invalid-event', message: `${named}: (event): expected a JSON object`, path: '(event)', line: undefined, index: undefined, position: undefined, ...src });
  });

  it('an array or null is not an event', () => {
    expect(failure(decodeEvent([], { line: 3 })).message).toBe('line 3: (event): expected a JSON object');
    expect(failure(decodeEvent(null)).message).toBe('event: (event): expected a JSON object');
  });

  it('a type that is not a string', () => {
    expect(failure(decodeEvent({ type: 1 }, { position: 7n }))).toMatchObject({ code: 'invalid-event', path: 'type', message: 'position 7: type: expected the event type as a string' });
    expect(failure(decodeEvent({ data: {} })).message).toBe('event: type: expected the event type as a string');
  });

  it('an unknown type, including the names of Object.prototype', () => {
    for (const type of ['Nope', 'toString', '__proto__', 'constructor', 'hasOwnProperty']) {
      expect(failure(decodeEvent({ type, data: {}, metadata: { at } }, { index: 2 }))).toMatchObject({
        code: 'unknown-event-type',
        path: 'type',
        index: 2,
        message: `events[2]: type: unknown event type "${type}"`,
      });
    }
  });
});

describe('the field a schema refuses is named by its path', () => {
  it('a nested array element: data.agentTypes[1]', () => {
    const raw = { type: 'PoolCreated', data: { poolId: 'p', name: 'n', maxSize: 1, agentTypes: ['a', ''] }, metadata: { at } };
    expect(failure(decodeEvent(raw, { line: 1 }))).toMatchObject({
      path: 'data.agentTypes[1]',
      message: 'line 1: data.agentTypes[1]: Too small: expected string to have >=1 characters',
    });
  });

  it('a data field: data.pid', () => {
    expect(failure(decodeEvent(spawned({ pid: 0 }))).message).toBe('event: data.pid: Too small: expected number to be >0');
    expect(failure(decodeEvent(spawned({ pid: 2 ** 31 }))).message).toBe('event: data.pid: Too big: expected number to be <=2147483647');
  });

  it('an unknown top-level field names the event itself, and the key', () => {
    expect(failure(decodeEvent({ ...spawned(), extra: 1 }, { position: 2n }))).toMatchObject({ path: '(event)', message: 'position 2: (event): Unrecognized key: "extra"' });
  });

  it('an unknown data field names data', () => {
    expect(failure(decodeEvent(spawned({ sessionID: 's' }))).message).toBe('event: data: Unrecognized key: "sessionID"');
  });

  it('metadata.at', () => {
    expect(failure(decodeEvent(spawned({}, { at: 'yesterday' }))).message).toBe('event: metadata.at: Invalid ISO datetime');
  });
});

describe('what a store would refuse is refused before any write (storable)', () => {
  const storable = { storable: true };

  it('a NUL in a data string', () => {
    expect(failure(decodeEvent(spawned({ agentId: 'a\u0000' }), {}, storable))).toMatchObject({
      code: 'invalid-event',
      path: 'data.agentId',
      message: 'event: data.agentId: contains a NUL character (\\u0000), which PostgreSQL cannot store; no store accepts it',
    });
  });

  it('a lone surrogate inside a metadata array', () => {
    expect(failure(decodeEvent(spawned({}, { arr: ['ok', '\ud800'] }), { line: 9 }, storable)).message).toBe(
      'line 9: metadata.arr[1]: contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff escape), which is not text; no store accepts it',
    );
  });

  it('a key with a NUL', () => {
    expect(failure(decodeEvent(spawned({}, { ['k\u0000']: 1 }), {}, storable)).message).toBe(
      'event: metadata."k\\u0000": a key that contains a NUL character (\\u0000), which PostgreSQL cannot store; no store accepts it',
    );
  });

  it('nesting deeper than 64 levels names the top of the branch', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : { x: nest(n - 1) });
    // The envelope is level 1, metadata 2, so deep itself may hold 62 more levels.
    expect(decodeEvent(spawned({}, { deep: nest(62) }), {}, storable).success).toBe(true);
    expect(failure(decodeEvent(spawned({}, { deep: nest(63) }), {}, storable))).toMatchObject({ path: 'metadata.deep…', message: 'event: metadata.deep…: nested deeper than 64 levels' });
    const list = (n: number): unknown => (n === 0 ? 1 : [list(n - 1)]);
    expect(failure(decodeEvent(spawned({}, { arr: list(70) }), {}, storable)).path).toBe('metadata.arr…');
  });

  it('the same strings are accepted when the caller does not ask (a read of what is already stored)', () => {
    expect(decodeEvent(spawned({ agentId: 'a\u0000' })).success).toBe(true);
  });

  it('a string is checked before the schema: the store problem is named, not a schema one', () => {
    expect(failure(decodeEvent({ ...spawned(), type: 'Nope\u0000' }, {}, storable)).message).toMatch(/^event: type: contains a NUL/);
  });
});

describe('a line that is not JSON', () => {
  // Our words are a contract; V8's detail inside the parentheses is quoted as V8 words it, which
  // differs between Node versions (22 adds "(line 1 column 8)"), so it is compared with V8 itself.
  const v8Says = (text: string): string => {
    try {
      JSON.parse(text);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error(`${text} parsed`);
  };

  it.each([
    ['{"a":', { line: 4 }, 'line 4', /end of JSON input/],
    ['{"a":1}x', { position: 9n }, 'position 9', /position 7\b/],
    ['{', { index: 1 }, 'events[1]', /position 1\b/],
  ] as const)('names where %j is and quotes JSON.parse', (text, src, named, detail) => {
    const e = failure(decodeLine(text, src));
    expect(e).toMatchObject({ code: 'invalid-json', ...src, message: `${named}: not valid JSON (${v8Says(text)})` });
    // V8's part says where the text broke: the reader can find it.
    expect(e.message).toMatch(detail);
  });

  it('names a byte order mark inside a line instead of printing it', () => {
    expect(failure(decodeLine('\uFEFF{}', { line: 5 })).message).toBe(
      'line 5: not valid JSON (a byte order mark (U+FEFF) inside the line; only one at the very start of the input is accepted)',
    );
  });

  it.each([
    ['\u0007', '\\u0007'],
    ['\u009f', '\\u009f'],
    ['\u200b{}', '\\u200b'],
    ['\u007f', '\\u007f'],
  ])('shows the invisible %j as its escape', (line, escaped) => {
    const message = failure(decodeLine(line)).message;
    expect(message).toContain(escaped);
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\uFEFF]/);
  });

  it('is one short printable line whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (line) => {
        const r = decodeLine(line);
        if (r.success || r.error.code !== 'invalid-json') return;
        expect(r.error.message.length).toBeLessThan(200);
        expect(r.error.message).not.toMatch(/[\n\r\u2028\u2029]/);
      }),
      { numRuns: runs(500) },
    );
  });
});

describe('ids are compared as UUIDs compare: case-insensitively', () => {
  it.each(['A', 'B', 'E', 'F'])('an id whose only uppercase digit is %s is read in lowercase', (d) => {
    const id = `0b6f1c2e-1111-4222-8333-44445555666${d}`;
    const r = decodeEvent({ ...spawned(), id });
    expect(r.success && [r.data.id, r.verbatim]).toEqual([id.toLowerCase(), false]);
  });

  it('a lowercase id is kept as it is', () => {
    const id = '0b6f1c2e-1111-4222-8333-44445555666f';
    const r = decodeEvent({ ...spawned(), id });
    expect(r.success && [r.data.id, r.verbatim]).toEqual([id, true]);
  });
});
