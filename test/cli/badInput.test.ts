import { describe, expect, it } from 'vitest';
import { cli, ndjsonFile } from '../support/cli.js';

const at = '2026-11-20T10:00:00.000Z';
const good = { type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' }, metadata: { at } };

const cases: Array<[string, object | string, string]> = [
  ['not JSON', '{"type": "AgentRegistered", ', 'rollcall: line 2: not valid JSON'],
  ['an unknown type', { type: 'AgentTeleported', data: { agentId: 'a1' }, metadata: { at } }, 'rollcall: line 2: type: unknown event type "AgentTeleported"'],
  ['a missing field', { type: 'AgentSpawned', data: { agentId: 'a1' }, metadata: { at } }, 'rollcall: line 2: data.sessionId: Invalid input: expected string, received undefined'],
  ['a mistyped field', { type: 'AgentSpawned', data: { agentId: 'a1', sessionId: 's1', pid: '42' }, metadata: { at } }, 'rollcall: line 2: data.pid: Invalid input: expected number, received string'],
  ['a missing at', { type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: {} }, 'rollcall: line 2: metadata.at: Invalid input: expected string, received undefined'],
  ['an invalid at', { type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at: 'yesterday' } }, 'rollcall: line 2: metadata.at: Invalid ISO datetime'],
  ['an at without a zone', { type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at: '2026-11-20T10:00:00' } }, 'rollcall: line 2: metadata.at: Invalid ISO datetime'],
  ['a negative maxSize', { type: 'PoolCreated', data: { poolId: 'p', name: 'p', maxSize: -1 }, metadata: { at } }, 'rollcall: line 2: data.maxSize: Too small: expected number to be >=0'],
  ['a fractional pid', { type: 'AgentSpawned', data: { agentId: 'a1', sessionId: 's1', pid: 1.5 }, metadata: { at } }, 'rollcall: line 2: data.pid: Invalid input: expected int, received number'],
  ['an unknown data field', { type: 'AgentHeartbeat', data: { agentId: 'a1', sessionID: 's' }, metadata: { at } }, 'rollcall: line 2: data: Unrecognized key: "sessionID"'],
  ['an id that is not a UUID', { id: 'nope', ...good }, 'rollcall: line 2: id: Invalid UUID'],
];

describe.each(['replay', 'check', 'audit a1'])('rollcall %s --input with bad input', (command) => {
  it.each(cases)('%s → exit 2 and one line naming the line and field', async (_name, bad, message) => {
    const file = ndjsonFile([good, bad, good]);
    const r = await cli([...command.split(' '), '--input', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
    expect(r.stdout).toBe('');
  });
});

describe('usage errors', () => {
  it.each([
    [['replay', '--until', 'abc', '--input', 'x'], '--until must be a non-negative integer position, got "abc"'],
    [['replay', '--as-of', 'soon', '--input', 'x'], '--as-of must be an ISO-8601 time with a zone'],
    [['replay', '--store', 'memory:', '--input', 'x'], 'use either --store or --input, not both'],
    [['replay', '--frobnicate'], "Unknown option '--frobnicate'"],
    [['audit'], 'audit needs exactly one AGENT_ID'],
    [['teleport'], 'unknown command "teleport"'],
    [['replay', '--store', 'mongodb://x'], 'unsupported store URL'],
  ])('%j → exit 2', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('a missing input file is a clear error, exit 2', async () => {
    const r = await cli(['replay', '--input', '/nonexistent/events.ndjson']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rollcall: cannot read \/nonexistent\/events.ndjson: .*no such file/);
  });

  it('a blank line is ignored and does not count as a position', async () => {
    const file = ndjsonFile([good, '', '   ', { type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at } }]);
    const r = await cli(['replay', '--input', file, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).position).toBe('2');
  });
});
