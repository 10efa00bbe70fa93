import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { MAX_PID } from '../events/lifecycleEvents.js';
import { isLive } from '../projections/lifecycleState.js';
import type { ProjectionJson } from '../projections/lifecycleView.js';
import { onObservedHost, type Observations, type PidObservation } from './decide.js';

export interface ProcessCheckOptions {
  /** Where procfs is mounted (tests may point elsewhere). Default `/proc`. */
  procRoot?: string;
}

export interface ObserveOptions extends ProcessCheckOptions {
  /** This machine's name as sessions record it (`host`). Default: `os.hostname()`. */
  host?: string;
}

let procfs: boolean | undefined;
const hasProcfs = (root: string): boolean =>
  root === '/proc' ? (procfs ??= existsSync('/proc/self/stat')) : existsSync(root);

/** The one-letter state of /proc/<pid>/stat, or null when there is no such entry. */
const procState = (root: string, pid: number): string | null => {
  let text: string;
  try {
    text = readFileSync(`${root}/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) S …": comm may itself contain spaces and parentheses, so cut at the last ')'.
  const close = text.lastIndexOf(')');
  return close < 0 ? null : text.charAt(close + 2) || null;
};

/**
 * Is this pid alive on this host? `process.kill(pid, 0)` says whether it exists (ESRCH: no;
 * EPERM: yes, someone else's); /proc then says whether it is only a zombie (Z) or dead (X), which
 * kill cannot tell. Anything that prevents the check is `alive: null`, never a guess either way:
 * the reconciler must never end a running process, nor hide that it could not look.
 */
export const checkPid = (pid: number, options: ProcessCheckOptions = {}): PidObservation => {
  if (!Number.isInteger(pid) || pid <= 0 || pid > MAX_PID) return { alive: null, detail: `cannot check: ${pid} is not a pid on this platform` };
  try {
    process.kill(pid, 0);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return { alive: false, detail: 'no such process (ESRCH)' };
    if (code !== 'EPERM') return { alive: null, detail: `cannot check: kill(0) failed with ${code ?? (e as Error).message}` };
  }
  const root = options.procRoot ?? '/proc';
  if (!hasProcfs(root)) return { alive: true, detail: 'exists (kill 0)' };
  const state = procState(root, pid);
  // Gone between the two checks.
  if (state === null) return { alive: false, detail: 'no /proc entry' };
  if (state === 'Z' || state === 'X') return { alive: false, detail: `${state === 'Z' ? 'zombie' : 'dead'} (state ${state})` };
  return { alive: true, detail: `state ${state}` };
};

/**
 * The default observer: checks the pid of every live session on this host (its `host` is this
 * one, or it has none), and no other host's: a pid means something only on its own machine.
 */
export const observeProcesses = (view: ProjectionJson, options: ObserveOptions = {}): Observations => {
  const host = options.host ?? hostname();
  const pids: Record<number, PidObservation> = {};
  for (const s of Object.values(view.sessions)) {
    if (isLive(s.state) && s.pid !== null && onObservedHost(s, { host }) && pids[s.pid] === undefined) pids[s.pid] = checkPid(s.pid, options);
  }
  return { host, pids };
};
