import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, dumpSqlite, ndjsonFile, tempDir } from '../support/cli.js';

// Hostile and careless input to `rollcall append`: each case must exit with its code, say one
// line naming the line and field, and leave the store exactly as it was.

const at = '2026-11-20T10:00:00.000Z';
const ev = (type: string, data: object, extra: object = {}) => JSON.stringify({ type, data, metadata: { at }, ...extra });
const good = ev('AgentRegistered', { agentId: 'a1', role: 'worker' });
const heartbeat = ev('AgentHeartbeat', { agentId: 'a1' });
/** `{"d":{"d":…"x"…}}`, n levels, written as text (JSON.stringify would recurse n deep). */
const deepJson = (n: number): string => `${'{"d":'.repeat(n)}"x"${'}'.repeat(n)}`;
const withDeepMetadata = (n: number, agentId = 'a1') =>
  `{"type":"AgentHeartbeat","data":{"agentId":"${agentId}"},"metadata":{"at":"${at}","x":${deepJson(n)}}}`;
const future = new Date(Date.now() + 3_600_000).toISOString();

/** [name, file content, exit code, first line of stderr] */
const refused: Array<[string, string | Buffer, number, string]> = [
  ['not JSON', `${good}\n{"type": "AgentRegistered", \n`, 2, `rollcall: line 2: not valid JSON (Expected double-quoted property name in JSON at position 28)`],
  ['trailing garbage after the object', `${good} x\n`, 2, `rollcall: line 1: not valid JSON (Unexpected non-whitespace character after JSON at position 112)`],
  ['two objects on one line', `${good}${good}\n`, 2, `rollcall: line 1: not valid JSON (Unexpected non-whitespace character after JSON at position 111)`],
  ['a JSON array', `[${good}]\n`, 2, 'rollcall: line 1: (event): expected a JSON object'],
  ['null', 'null\n', 2, 'rollcall: line 1: (event): expected a JSON object'],
  ['a number', '42\n', 2, 'rollcall: line 1: (event): expected a JSON object'],
  ['NaN', 'NaN\n', 2, `rollcall: line 1: not valid JSON ("NaN" is not valid JSON)`],
  ['a missing type', JSON.stringify({ data: {}, metadata: { at } }), 2, 'rollcall: line 1: type: expected the event type as a string'],
  ['an unknown type', ev('AgentTeleported', { agentId: 'a1' }), 2, 'rollcall: line 1: type: unknown event type "AgentTeleported"'],
  ['type __proto__', ev('__proto__', { agentId: 'a1' }), 2, 'rollcall: line 1: type: unknown event type "__proto__"'],
  ['type constructor', ev('constructor', { agentId: 'a1' }), 2, 'rollcall: line 1: type: unknown event type "constructor"'],
  ['type toString', ev('toString', { agentId: 'a1' }), 2, 'rollcall: line 1: type: unknown event type "toString"'],
  ['type hasOwnProperty', ev('hasOwnProperty', { agentId: 'a1' }), 2, 'rollcall: line 1: type: unknown event type "hasOwnProperty"'],
  ['a missing field', ev('AgentSpawned', { agentId: 'a1' }), 2, 'rollcall: line 1: data.sessionId: Invalid input: expected string, received undefined'],
  ['an unknown data field', ev('AgentHeartbeat', { agentId: 'a1', sessionID: 's' }), 2, 'rollcall: line 1: data: Unrecognized key: "sessionID"'],
  ['an unknown top-level field', ev('AgentHeartbeat', { agentId: 'a1' }, { stream: 'agent-a1' }), 2, 'rollcall: line 1: (event): Unrecognized key: "stream"'],
  ['metadata not an object', JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: 'now' }), 2, 'rollcall: line 1: metadata: Invalid input: expected object, received string'],
  ['a negative maxSize', ev('PoolCreated', { poolId: 'p', name: 'p', maxSize: -1 }), 2, 'rollcall: line 1: data.maxSize: Too small: expected number to be >=0'],
  ['an id that is not a UUID', ev('AgentHeartbeat', { agentId: 'a1' }, { id: 'nope' }), 2, 'rollcall: line 1: id: Invalid UUID'],
  ['an id that is a number', ev('AgentHeartbeat', { agentId: 'a1' }, { id: 42 }), 2, 'rollcall: line 1: id: Invalid input: expected string, received number'],
  ['an empty agentId', ev('AgentHeartbeat', { agentId: '' }), 2, 'rollcall: line 1: data.agentId: Too small: expected string to have >=1 characters'],
  ['an at in year 275760', JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at: '+275760-09-13T00:00:00Z' } }), 2, 'rollcall: line 1: metadata.at: Invalid ISO datetime'],
  ['NUL in a data string', ev('AgentHeartbeat', { agentId: 'a\u0000b' }), 2, 'rollcall: line 1: data.agentId: contains a NUL character (\\u0000), which PostgreSQL cannot store; no store accepts it'],
  ['NUL in a metadata string', JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at, source: 'x\u0000' } }), 2, 'rollcall: line 1: metadata.source: contains a NUL character (\\u0000), which PostgreSQL cannot store; no store accepts it'],
  ['a lone surrogate in a string', `{"type":"AgentHeartbeat","data":{"agentId":"a\\ud800"},"metadata":{"at":"${at}"}}`, 2, 'rollcall: line 1: data.agentId: contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff escape), which is not text; no store accepts it'],
  ['a lone surrogate in a metadata key', `{"type":"AgentHeartbeat","data":{"agentId":"a1"},"metadata":{"at":"${at}","\\udc00":1}}`, 2, 'rollcall: line 1: metadata."\\udc00": a key that contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff escape), which is not text; no store accepts it'],
  ['metadata nested 5,000 deep', withDeepMetadata(5000), 2, 'rollcall: line 1: metadata.x…: nested deeper than 64 levels'],
  ['metadata nested just over the limit (65 levels in all)', withDeepMetadata(63), 2, 'rollcall: line 1: metadata.x…: nested deeper than 64 levels'],
  ['a line over 1 MiB', JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at, pad: 'x'.repeat(1 << 20) } }), 2, `rollcall: line 1: longer than 1048576 bytes; no event is that large`],
  ['invalid UTF-8', Buffer.concat([Buffer.from(`${good}\n{"type":"AgentHeartbeat","data":{"agentId":"a`), Buffer.from([0xff, 0xfe]), Buffer.from(`"},"metadata":{"at":"${at}"}}\n`)]), 2, 'rollcall: line 2: not valid UTF-8 text (byte 0xFF at byte 46 of the line); convert the file to UTF-8'],
  ['an overlong UTF-8 encoding', Buffer.concat([Buffer.from('{"type":"AgentHeartbeat","data":{"agentId":"'), Buffer.from([0xc0, 0xaf]), Buffer.from(`"},"metadata":{"at":"${at}"}}\n`)]), 2, 'rollcall: line 1: not valid UTF-8 text (byte 0xC0 at byte 45 of the line); convert the file to UTF-8'],
  ['binary garbage', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]), 2, 'rollcall: line 1: not valid UTF-8 text (byte 0x89 at byte 1 of the line); convert the file to UTF-8'],
  ['a BOM on the second line', `${good}\n\uFEFF${heartbeat}\n`, 2, 'rollcall: line 2: not valid JSON (a byte order mark (U+FEFF) inside the line; only one at the very start of the input is accepted)'],
  ['an event 1 h in the future', JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at: future } }), 2, `rollcall: line 1: metadata.at: ${future} is 3600 s ahead of this machine's clock (at most 300 s allowed); nothing appended`],
  ['a bad line after valid ones', `${good}\n${heartbeat}\n\n${ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', pid: 1.5 })}\n${heartbeat}\n`, 2, 'rollcall: line 4: data.pid: Invalid input: expected int, received number'],
];

/** A store holding two events, and its dump. */
const seededStore = async () => {
  const dir = tempDir();
  const path = join(dir, 'store.db');
  const seed = await cli(['append', '--store', `sqlite:${path}`, ndjsonFile([good, heartbeat], dir)]);
  expect(seed.code).toBe(0);
  return { dir, path, url: `sqlite:${path}`, before: dumpSqlite(path) };
};

const write = (dir: string, content: string | Buffer): string => {
  const file = join(dir, 'input.ndjson');
  writeFileSync(file, typeof content === 'string' && !content.endsWith('\n') ? `${content}\n` : content);
  return file;
};

describe('rollcall append refuses hostile input whole: exit code, one line naming it, store unchanged', () => {
  it.each(refused)('%s', async (_name, content, code, message) => {
    const store = await seededStore();
    const r = await cli(['append', '--store', store.url, write(store.dir, content)]);
    expect(r.code).toBe(code);
    // The seconds an event is ahead by depend on when the test runs: compare them to within a minute.
    const ahead = (m: string) => m.replace(/is (\d+) s ahead/, (_, s: string) => `is ${Math.round(Number(s) / 60)} min ahead`);
    expect(ahead(r.stderr.split('\n')[0]!)).toBe(ahead(message));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(dumpSqlite(store.path)).toBe(store.before);
  });

  it.each(refused.slice(0, 6))('%s, into a store that does not exist yet: no file is created', async (_name, content) => {
    const dir = tempDir();
    const path = join(dir, 'new.db');
    const r = await cli(['append', '--store', `sqlite:${path}`, write(dir, content)]);
    expect(r.code).toBe(2);
    expect(dumpSqlite(path)).toBe('absent');
  });
});

/** [name, args (FILE is replaced by a valid input file, DIR by a directory), exit code, first line of stderr] */
const refusedArgs: Array<[string, string[], number, string]> = [
  ['a missing file', ['/nonexistent/events.ndjson'], 2, "rollcall: cannot read /nonexistent/events.ndjson: ENOENT: no such file or directory, open '/nonexistent/events.ndjson'"],
  ['a directory as input', ['DIR'], 2, 'rollcall: cannot read DIR: EISDIR: illegal operation on a directory, read'],
  ['an unreadable file', ['/proc/self/mem'], 2, 'rollcall: cannot read /proc/self/mem: EIO: i/o error, read'],
  ['-- --help is a file name, not a flag', ['--', '--help'], 2, "rollcall: cannot read --help: ENOENT: no such file or directory, open '--help'"],
  ['two files', ['FILE', 'FILE'], 2, 'rollcall: append takes one FILE (or - for stdin)'],
  ['an unknown flag', ['--frobnicate', 'FILE'], 2, "rollcall: Unknown option '--frobnicate'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--frobnicate\" (see rollcall --help)"],
  ['--max-clock-skew abc', ['--max-clock-skew', 'abc', 'FILE'], 2, 'rollcall: --max-clock-skew must be a non-negative number of seconds, got "abc"'],
  ['--max-clock-skew -1', ['--max-clock-skew=-1', 'FILE'], 2, 'rollcall: --max-clock-skew must be a non-negative number of seconds, got "-1"'],
  ["--max-clock-skew ''", ['--max-clock-skew', '', 'FILE'], 2, 'rollcall: --max-clock-skew must be a non-negative number of seconds, got ""'],
  ['an unsupported store URL', ['--store', 'mongodb://x', 'FILE'], 2, 'rollcall: unsupported store URL "mongodb://x" (use sqlite:PATH, postgres://…, esdb://…, or memory:)'],
  ['an invalid postgres URL', ['--store', 'postgres://u:secret@h:notaport/db', 'FILE'], 2, 'rollcall: invalid PostgreSQL URL "postgres://u:***@h:notaport/db" (expected postgres://HOST:PORT/DATABASE, with USER:PASSWORD@ before the host; percent-encode / # ? @ in a password)'],
  ['a store in a directory that does not exist', ['--store', 'sqlite:/nonexistent/dir/x.db', 'FILE'], 3, 'rollcall: cannot open store sqlite:/nonexistent/dir/x.db: directory /nonexistent/dir does not exist'],
];

describe('rollcall append refuses bad arguments', () => {
  it.each(refusedArgs)('%s', async (_name, args, code, message) => {
    const store = await seededStore();
    const dir = join(store.dir, 'a-directory');
    mkdirSync(dir);
    const file = write(store.dir, `${good}\n`);
    const withStore = args.includes('--store') ? [] : ['--store', store.url];
    const r = await cli(['append', ...withStore, ...args.map((a) => (a === 'FILE' ? file : a === 'DIR' ? dir : a))]);
    expect(r.code).toBe(code);
    expect(r.stderr.split('\n')[0]).toBe(message.replace('DIR', dir));
    expect(r.stdout).toBe('');
    expect(dumpSqlite(store.path)).toBe(store.before);
  });
});

/** [name, file content, stdout] — input that is odd but fine. */
const accepted: Array<[string, string | Buffer, string]> = [
  ['a leading BOM', `\uFEFF${ev('AgentHeartbeat', { agentId: 'a2' })}\n`, 'appended 1 event(s) to STORE, positions 3–3'],
  ['CRLF line ends', `${ev('AgentHeartbeat', { agentId: 'a2' })}\r\n${ev('AgentHeartbeat', { agentId: 'a3' })}\r\n`, 'appended 2 event(s) to STORE, positions 3–4'],
  ['no newline at the end', ev('AgentHeartbeat', { agentId: 'a2' }).replace(/$/, ''), 'appended 1 event(s) to STORE, positions 3–3'],
  ['an event 4 min in the future (within the skew)', JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a2' }, metadata: { at: new Date(Date.now() + 240_000).toISOString() } }), 'appended 1 event(s) to STORE, positions 3–3'],
  ['metadata nested 60 deep', withDeepMetadata(60, 'a2'), 'appended 1 event(s) to STORE, positions 3–3'],
  ['unicode text, astral characters included', ev('AgentRegistered', { agentId: 'agent-ü-😀', role: 'worker', name: 'Zoë 🚀' }), 'appended 1 event(s) to STORE, positions 3–3'],
];

describe('rollcall append accepts odd but valid input', () => {
  it.each(accepted)('%s', async (_name, content, stdout) => {
    const store = await seededStore();
    const r = await cli(['append', '--store', store.url, write(store.dir, content)]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${stdout.replace('STORE', store.url)}\n`);
    expect(r.code).toBe(0);
  });

  it.each([
    ['an empty file', ''],
    ['only blank lines', '\n   \n\t\r\n\n'],
  ])('%s appends nothing, says so, and creates no store', async (_name, content) => {
    const dir = tempDir();
    const file = join(dir, 'in.ndjson');
    writeFileSync(file, content);
    const r = await cli(['append', '--store', `sqlite:${join(dir, 'x.db')}`, file]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'rollcall: nothing to append (no events in the input)\n' });
    expect(dumpSqlite(join(dir, 'x.db'))).toBe('absent');
  });

  it('--max-clock-skew raises the limit', async () => {
    const store = await seededStore();
    const file = write(store.dir, JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at: future } }));
    const r = await cli(['append', '--store', store.url, '--max-clock-skew', '7200', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`appended 1 event(s) to ${store.url}, positions 3–3\n`);
  });

  it('an uppercase copy of a stored UUID is the same id: a duplicate, stored once', async () => {
    const store = await seededStore();
    const id = '0b6f2c1e-8d3a-4c5b-9e7f-aabbccddeeff';
    const lower = write(store.dir, ev('AgentHeartbeat', { agentId: 'a1' }, { id }));
    expect((await cli(['append', '--store', store.url, lower])).stdout).toBe(`appended 1 event(s) to ${store.url}, positions 3–3\n`);
    const upper = write(store.dir, ev('AgentHeartbeat', { agentId: 'a1' }, { id: id.toUpperCase() }));
    const r = await cli(['append', '--store', store.url, upper]);
    expect(r.stdout).toBe(`appended 0 event(s) to ${store.url}; 1 already stored (same id), skipped\n`);
    expect(JSON.parse(dumpSqlite(store.path)).events.map((e: unknown[]) => e[3])).toContain(id);
  });
});
