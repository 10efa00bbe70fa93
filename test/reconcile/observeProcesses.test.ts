import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPid, observeProcesses } from '../../src/reconcile/observeProcesses.js';
import { ev, foldView } from '../support/lifecycle.js';

/** A procfs look-alike holding one stat line for our own pid (which kill(0) accepts). */
const fakeProc = (stat: string) => {
  const root = mkdtempSync(join(tmpdir(), 'rollcall-proc-'));
  mkdirSync(join(root, String(process.pid)));
  writeFileSync(join(root, String(process.pid), 'stat'), stat);
  return { root, done: () => rmSync(root, { recursive: true, force: true }) };
};

describe('checkPid', () => {
  it('our own process is alive', () => {
    expect(checkPid(process.pid).alive).toBe(true);
  });

  it('a process that exited and was reaped is dead (ESRCH)', async () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await once(child, 'exit');
    expect(checkPid(child.pid!)).toEqual({ alive: false, detail: 'no such process (ESRCH)' });
  });

  it.each([
    ['Z', false, 'zombie (state Z)'],
    ['X', false, 'dead (state X)'],
    ['S', true, 'state S'],
    ['R', true, 'state R'],
  ])('reads state %s from /proc/<pid>/stat even when the command name holds ") X "', (letter, alive, detail) => {
    const proc = fakeProc(`${process.pid} (evil) X (name) ${letter} 1 2 3 4\n`);
    try {
      expect(checkPid(process.pid, { procRoot: proc.root })).toEqual({ alive, detail });
    } finally {
      proc.done();
    }
  });

  it('a process that vanished between kill(0) and the /proc read is dead', () => {
    const root = mkdtempSync(join(tmpdir(), 'rollcall-proc-'));
    try {
      expect(checkPid(process.pid, { procRoot: root })).toEqual({ alive: false, detail: 'no /proc entry' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('observeProcesses', () => {
  it('checks the pid of every live session (running and terminating), and nothing else', async () => {
    const view = await foldView([
      ev('AgentRegistered', { agentId: 'a1', role: 'worker' }, { at: 0 }),
      ev('AgentRegistered', { agentId: 'a2', role: 'worker' }, { at: 0 }),
      ev('AgentRegistered', { agentId: 'a3', role: 'worker' }, { at: 0 }),
      ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', pid: process.pid }, { at: 1 }),
      ev('AgentSpawned', { agentId: 'a2', sessionId: 's2', pid: 9_999_991 }, { at: 1 }),
      ev('SessionTerminationRequested', { agentId: 'a2', sessionId: 's2' }, { at: 2 }),
      ev('AgentSpawned', { agentId: 'a3', sessionId: 's3', pid: 9_999_992 }, { at: 1 }),
      ev('SessionEnded', { agentId: 'a3', sessionId: 's3', reason: 'done' }, { at: 2 }),
    ]);
    const seen = observeProcesses(view);
    expect(Object.keys(seen.pids ?? {}).map(Number).sort()).toEqual([process.pid, 9_999_991].sort());
    expect(seen.pids?.[process.pid]?.alive).toBe(true);
    expect(seen.pids?.[9_999_991]?.alive).toBe(false);
  });
});
