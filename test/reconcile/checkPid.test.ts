import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_PID } from '../../src/events/lifecycleEvents.js';
import type { ProjectionJson, SessionJson } from '../../src/projections/lifecycleView.js';
import { checkPid, observeProcesses } from '../../src/reconcile/observeProcesses.js';

// process.kill is replaced by a fake for every test here: no signal reaches a real process, and
// every errno the check maps can be produced. /proc is a temporary directory unless said otherwise.

const errno = (code: string | undefined, message = `kill failed (${code})`) => Object.assign(new Error(message), code === undefined ? {} : { code });

let kill: ReturnType<typeof vi.fn<(pid: number, signal?: string | number) => true>>;
let root: string;

beforeEach(() => {
  kill = vi.fn<(pid: number, signal?: string | number) => true>(() => true);
  vi.spyOn(process, 'kill').mockImplementation(kill);
  root = mkdtempSync(join(tmpdir(), 'rollcall-fakeproc-'));
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(root, { recursive: true, force: true });
});

/** Writes <root>/<pid>/stat. */
const stat = (pid: number, text: string) => {
  mkdirSync(join(root, String(pid)), { recursive: true });
  writeFileSync(join(root, String(pid), 'stat'), text);
};

describe('checkPid: what is not a pid is not checked', () => {
  it.each([0, -1, -42, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_PID + 1, 2 ** 32, 2 ** 53])('%s → alive null, with the reason, and no kill', (pid) => {
    expect(checkPid(pid, { procRoot: root })).toEqual({ alive: null, detail: `cannot check: ${pid} is not a pid on this platform` });
    expect(kill).not.toHaveBeenCalled();
  });

  it.each([1, 2, MAX_PID])('%s is a pid: kill(pid, 0) is asked', (pid) => {
    stat(pid, `${pid} (x) S 1`);
    expect(checkPid(pid, { procRoot: root })).toEqual({ alive: true, detail: 'state S' });
    expect(kill).toHaveBeenCalledTimes(1);
    expect(kill).toHaveBeenCalledWith(pid, 0);
  });

  it('MAX_PID is 2^31 - 1', () => {
    expect(MAX_PID).toBe(2 ** 31 - 1);
  });
});

describe('checkPid: what kill(0) says', () => {
  it('ESRCH: gone, and /proc is not read', () => {
    kill.mockImplementation(() => {
      throw errno('ESRCH');
    });
    stat(4242, '4242 (x) R 1');
    expect(checkPid(4242, { procRoot: root })).toEqual({ alive: false, detail: 'no such process (ESRCH)' });
  });

  it('EPERM: it exists (another user’s), and /proc tells its state', () => {
    kill.mockImplementation(() => {
      throw errno('EPERM');
    });
    stat(4242, '4242 (x) S 1');
    expect(checkPid(4242, { procRoot: root })).toEqual({ alive: true, detail: 'state S' });
    stat(4243, '4243 (x) Z 1');
    expect(checkPid(4243, { procRoot: root })).toEqual({ alive: false, detail: 'zombie (state Z)' });
  });

  it.each(['EINVAL', 'ENOSYS', 'EACCES'])('%s: cannot check, and says why', (code) => {
    kill.mockImplementation(() => {
      throw errno(code);
    });
    stat(4242, '4242 (x) R 1');
    expect(checkPid(4242, { procRoot: root })).toEqual({ alive: null, detail: `cannot check: kill(0) failed with ${code}` });
  });

  it('an error without a code: cannot check, with its message', () => {
    kill.mockImplementation(() => {
      throw errno(undefined, 'not permitted here');
    });
    expect(checkPid(4242, { procRoot: root })).toEqual({ alive: null, detail: 'cannot check: kill(0) failed with not permitted here' });
  });
});

describe('checkPid: what /proc/<pid>/stat says', () => {
  it.each([
    ['4242 (x) R 1 2 3', true, 'state R'],
    ['4242 (x) S 1', true, 'state S'],
    ['4242 (x) D 1', true, 'state D'],
    ['4242 (x) T 1', true, 'state T'],
    ['4242 (x) Z 1', false, 'zombie (state Z)'],
    ['4242 (x) X 1', false, 'dead (state X)'],
    ['4242 (a) Z (b) R 1', true, 'state R'],
    ['4242 (a b) c) X 1', false, 'dead (state X)'],
    [') S', true, 'state S'],
    ['4242 (x)', false, 'no /proc entry'],
    ['4242 (x) ', false, 'no /proc entry'],
    ['garbage without a parenthesis', false, 'no /proc entry'],
    ['', false, 'no /proc entry'],
  ])('%j → alive %s, %j', (text, alive, detail) => {
    stat(4242, text);
    expect(checkPid(4242, { procRoot: root })).toEqual({ alive, detail });
  });

  it('no entry for the pid (it exited between the two checks) → dead', () => {
    expect(checkPid(4242, { procRoot: root })).toEqual({ alive: false, detail: 'no /proc entry' });
  });

  it('an entry that cannot be read (a directory) → no /proc entry', () => {
    mkdirSync(join(root, '4242', 'stat'), { recursive: true });
    expect(checkPid(4242, { procRoot: root })).toEqual({ alive: false, detail: 'no /proc entry' });
  });

  it('without procfs (its root does not exist), kill(0) alone decides: it exists', () => {
    expect(checkPid(4242, { procRoot: join(root, 'missing') })).toEqual({ alive: true, detail: 'exists (kill 0)' });
  });

  it('the default procfs is /proc: our own process is read there', () => {
    vi.restoreAllMocks();
    const seen = checkPid(process.pid);
    expect(seen.alive).toBe(true);
    expect(seen.detail).toMatch(/^state [A-Z]$/);
  });
});

const viewOf = (sessions: SessionJson[]): ProjectionJson => ({
  position: '1', pools: {}, agents: {}, running: [], busy: [], hosts: {}, quarantined: [],
  sessions: Object.fromEntries(sessions.map((s) => [s.sessionId, s])),
  anomalies: { count: 0, byReason: {}, recent: [] },
});
const session = (sessionId: string, over: Partial<SessionJson>): SessionJson => ({
  sessionId, agentId: `agent-of-${sessionId}`, poolId: null, state: 'running', pid: null, host: null,
  startedAt: null, endedAt: null, terminatingSince: null, terminationReason: null, epoch: null, leaseMs: null, leaseExpiresAt: null, ...over,
});

describe('observeProcesses', () => {
  it('checks each distinct pid of the live sessions on its host (or with none) once, with the given procfs', () => {
    for (const pid of [11, 12, 13]) stat(pid, `${pid} (x) S 1`);
    stat(14, '14 (x) Z 1');
    const view = viewOf([
      session('s1', { pid: 11, host: 'me' }),
      session('s2', { pid: 11, host: 'me', state: 'terminating' }),
      session('s3', { pid: 12, state: 'starting' }),
      session('s4', { pid: 13, host: 'other' }),
      session('s5', { pid: 14, state: 'terminating' }),
      session('s6', { pid: null, host: 'me' }),
      session('s7', { pid: 15, state: 'suspended' }),
      session('s8', { pid: 16, state: 'terminated' }),
      session('s9', { pid: 17, state: 'failed' }),
    ]);
    expect(observeProcesses(view, { host: 'me', procRoot: root })).toEqual({
      host: 'me',
      pids: { 11: { alive: true, detail: 'state S' }, 12: { alive: true, detail: 'state S' }, 14: { alive: false, detail: 'zombie (state Z)' } },
    });
    expect(kill.mock.calls).toEqual([[11, 0], [12, 0], [14, 0]]);
  });

  it('pids that are not pids are reported as not checkable, not skipped', () => {
    const view = viewOf([session('s1', { pid: MAX_PID + 1 }), session('s2', { pid: 0 }), session('s3', { pid: -3 })]);
    expect(observeProcesses(view, { host: 'me', procRoot: root }).pids).toEqual({
      [MAX_PID + 1]: { alive: null, detail: `cannot check: ${MAX_PID + 1} is not a pid on this platform` },
      0: { alive: null, detail: 'cannot check: 0 is not a pid on this platform' },
      [-3]: { alive: null, detail: 'cannot check: -3 is not a pid on this platform' },
    });
    expect(kill).not.toHaveBeenCalled();
  });

  it('maps kill errors per pid', () => {
    kill.mockImplementation((pid) => {
      throw errno(pid === 21 ? 'ESRCH' : 'EINVAL');
    });
    const view = viewOf([session('s1', { pid: 21 }), session('s2', { pid: 22 })]);
    expect(observeProcesses(view, { host: 'me', procRoot: root }).pids).toEqual({
      21: { alive: false, detail: 'no such process (ESRCH)' },
      22: { alive: null, detail: 'cannot check: kill(0) failed with EINVAL' },
    });
  });

  it('by default observes for os.hostname(), and an empty view gives no pids', () => {
    const view = viewOf([session('s1', { pid: 31, host: hostname() }), session('s2', { pid: 32, host: `${hostname()}-not` })]);
    const obs = observeProcesses(view, { procRoot: join(root, 'missing') });
    expect(obs).toEqual({ host: hostname(), pids: { 31: { alive: true, detail: 'exists (kill 0)' } } });
    expect(observeProcesses(viewOf([]), { host: 'me' })).toEqual({ host: 'me', pids: {} });
  });
});
