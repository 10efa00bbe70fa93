import type { GeneratedEvent } from './generatedEvent.js';

export type Role = 'worker' | 'steward' | 'director';

/** What the generator believes is really happening to an agent, whatever the log later says. */
export type AgentState =
  | 'unregistered'
  | 'idle'
  | 'starting'
  | 'running'
  | 'inRun'
  | 'suspended'
  | 'terminating'
  /** Gone without a word (pod deleted mid-termination): its session stays stuck until it returns. */
  | 'dark';

export interface SimPool {
  readonly id: string;
  name: string;
  maxSize: number;
  readonly plannedSize: number;
  /** Replaced, never mutated: emitted events share the array. */
  agentTypes: string[];
  readonly templateTypes: readonly string[];
  enabled: boolean;
  exists: boolean;
  /** Live non-director sessions in this pool, so the dispatcher mostly respects maxSize. */
  live: number;
}

export interface SimSession {
  readonly id: string;
  readonly pool: SimPool | undefined;
  pid: number | undefined;
  readonly correlationId: string;
  lastEventId: string | undefined;
  live: boolean;
  /** The host its process runs on, once spawned. */
  host: string | undefined;
  /** Its lease length (SPEC §7.2), when it holds its slot on one. */
  readonly leaseMs: number | undefined;
  /** When the projection will end it unless renewed (ms; meaningful while live and leased). */
  leaseExpiresAt: number;
}

export interface SimAgent {
  readonly slot: number;
  readonly id: string;
  readonly short: string;
  readonly role: Role;
  readonly variant: string | undefined;
  readonly typeKey: string;
  readonly name: string | undefined;
  state: AgentState;
  connection: string | null;
  disconnectedAt: number;
  session: SimSession | null;
  sessionCount: number;
  generation: number;
  /** Pids of this agent's earlier processes: the ammunition of stale crashes. */
  pastPids: number[];
  /** Events that already happened but reach the log only after the agent's next spawn. */
  held: GeneratedEvent[];
  terminatingSince: number;
  darkUntil: number;
  reconcilerIgnores: boolean;
  /** Times of its recent abnormal ends, as the projection counts them (SPEC §7.4). */
  abnormalEnds: number[];
  /** Quarantined by a crash loop: the dispatcher releases it before starting it again. */
  quarantined: boolean;
}

export type Action =
  | 'register'
  | 'connect'
  | 'disconnect'
  | 'flap'
  | 'heartbeat'
  | 'remove'
  | 'startSession'
  | 'spawn'
  | 'respawn'
  | 'startFailed'
  | 'runStart'
  | 'runFinish'
  | 'end'
  | 'crash'
  | 'disconnectCrash'
  | 'stop'
  | 'suspend'
  | 'resume'
  | 'notFound'
  | 'requestTermination'
  | 'reset'
  | 'vanish'
  | 'reconcilerEnd'
  | 'wake'
  | 'renewLease'
  | 'suspect';

export interface Move {
  readonly action: Action;
  readonly weight: number;
  /** Ends the session: directors do this far less often, their sessions are long-lived. */
  readonly ends?: true;
  readonly when?: (agent: SimAgent, now: number) => boolean;
}

/** The reconciler's defaults (SPEC §4): disconnect grace and the stuck-terminating threshold. */
export const DISCONNECT_GRACE_MS = 30_000;
export const STUCK_TERMINATING_MS = 600_000;
export const DIRECTOR_END_FACTOR = 0.15;
/** The projection's crash-loop defaults (SPEC §7.4). */
export const QUARANTINE_AFTER = 3;
export const QUARANTINE_WINDOW_MS = 600_000;

const connected = (a: SimAgent): boolean => a.connection !== null;
const offline = (a: SimAgent): boolean => a.connection === null;
const graceOver = (a: SimAgent, now: number): boolean =>
  a.connection === null && now - a.disconnectedAt > DISCONNECT_GRACE_MS;

// Connection churn is possible whenever a process is up.
const leased = (a: SimAgent): boolean => a.connection !== null && a.session?.leaseMs !== undefined;
/** Disconnected but within its grace: what a reconciler suspects before it is sure (SPEC §7.3). */
const inGrace = (a: SimAgent, now: number): boolean => a.connection === null && now - a.disconnectedAt <= DISCONNECT_GRACE_MS;

const connectionMoves: readonly Move[] = [
  { action: 'heartbeat', weight: 3, when: connected },
  { action: 'disconnect', weight: 0.12, when: connected },
  { action: 'flap', weight: 0.06, when: connected },
  { action: 'connect', weight: 3, when: offline },
  { action: 'disconnectCrash', weight: 2, when: graceOver },
  { action: 'renewLease', weight: 1, when: leased },
  { action: 'suspect', weight: 0.5, when: inGrace },
];

/** Next plausible actions per state, chosen by weight among those whose `when` holds. */
export const moves: Readonly<Record<AgentState, readonly Move[]>> = {
  unregistered: [{ action: 'register', weight: 1 }],
  idle: [
    { action: 'startSession', weight: 6, when: connected },
    { action: 'heartbeat', weight: 3, when: connected },
    { action: 'disconnect', weight: 0.25, when: connected },
    { action: 'connect', weight: 5, when: offline },
    { action: 'remove', weight: 0.03 },
  ],
  starting: [
    { action: 'spawn', weight: 10 },
    { action: 'startFailed', weight: 0.7, ends: true },
    { action: 'heartbeat', weight: 1, when: connected },
    { action: 'connect', weight: 3, when: offline },
  ],
  running: [
    { action: 'runStart', weight: 7 },
    { action: 'end', weight: 1, ends: true },
    { action: 'crash', weight: 0.3, ends: true },
    { action: 'stop', weight: 0.3, ends: true },
    { action: 'suspend', weight: 0.5, ends: true },
    { action: 'requestTermination', weight: 0.5, ends: true },
    { action: 'reset', weight: 0.25 },
    { action: 'respawn', weight: 0.08 },
    { action: 'notFound', weight: 0.08, ends: true },
    { action: 'remove', weight: 0.01 },
    ...connectionMoves,
  ],
  inRun: [
    { action: 'runFinish', weight: 10 },
    { action: 'crash', weight: 0.3, ends: true },
    { action: 'reset', weight: 0.15 },
    { action: 'requestTermination', weight: 0.15, ends: true },
    ...connectionMoves,
  ],
  suspended: [
    { action: 'resume', weight: 3 },
    { action: 'notFound', weight: 0.8 },
    { action: 'requestTermination', weight: 0.4 },
    { action: 'stop', weight: 0.15 },
    { action: 'heartbeat', weight: 1, when: connected },
    { action: 'connect', weight: 3, when: offline },
  ],
  terminating: [
    { action: 'end', weight: 6 },
    { action: 'vanish', weight: 0.8, when: connected },
    { action: 'crash', weight: 0.2 },
    { action: 'heartbeat', weight: 1, when: connected },
    { action: 'connect', weight: 3, when: offline },
    { action: 'disconnectCrash', weight: 2, when: graceOver },
  ],
  dark: [
    {
      action: 'reconcilerEnd',
      weight: 1,
      when: (a, now) => a.session !== null && !a.reconcilerIgnores && now - a.terminatingSince > STUCK_TERMINATING_MS,
    },
    { action: 'wake', weight: 1, when: (a, now) => now >= a.darkUntil },
  ],
};

export const poolTemplates: readonly { name: string; agentTypes: readonly string[] }[] = [
  { name: 'default', agentTypes: [] },
  { name: 'workers', agentTypes: ['worker', 'worker:ephemeral'] },
  { name: 'stewards', agentTypes: ['steward', 'steward:merge'] },
  { name: 'ephemeral', agentTypes: ['worker:ephemeral'] },
  { name: 'merge-queue', agentTypes: ['steward:merge'] },
  { name: 'overflow', agentTypes: [] },
];

export const PID_CHECK = 'Process no longer alive (PID check)';

export const reasons = {
  end: ['completed', 'completed', 'task_complete', 'idle_timeout', 'exit code 0', 'context_limit'],
  terminated: ['terminated', 'stopped_by_user', 'exit code 143 (SIGTERM)'],
  exit: ['exit code 137 (SIGKILL)', 'OOM killed', 'exit code 1', 'segmentation fault'],
  startFailed: ['spawn claude ENOENT', 'start_timeout', 'credential pool exhausted', 'worktree checkout failed'],
  stop: ['shutdown', 'idle_timeout', 'operator stop', 'SIGTERM'],
  remove: ['decommissioned', 'ephemeral worker retired', 'replaced by autoscaler'],
  outcome: ['success', 'success', 'success', 'success', 'success', 'error', 'cancelled', 'timeout'],
} as const;

export const nameParts = {
  adjective: ['brave', 'calm', 'eager', 'fuzzy', 'gentle', 'jolly', 'keen', 'lucky', 'nimble', 'quiet', 'rapid', 'sly'],
  noun: ['otter', 'falcon', 'badger', 'heron', 'lynx', 'marten', 'newt', 'owl', 'panda', 'raven', 'stoat', 'wren'],
} as const;
