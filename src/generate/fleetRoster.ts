import type { FleetContext } from './fleetContext.js';
import { nameParts, type Role, type SimAgent, type SimSession } from './fleetModel.js';

/** The agents of the fleet, one per slot; a removed agent's slot is refilled by a fresh id. */
export interface FleetRoster {
  readonly agents: SimAgent[];
  /** The last few removed agent ids (strays keep talking about them). */
  readonly removedIds: string[];
  newAgent(slot: number, role: Role, variant: string | undefined): SimAgent;
  /** Keeps the pools' live counts in step with a session's liveness. */
  setLive(a: SimAgent, s: SimSession, live: boolean): void;
  rememberPid(a: SimAgent, pid: number | undefined): void;
  /** The agent's session is over: no longer live, its pid remembered, the agent without a session. */
  closeSession(a: SimAgent): SimSession;
  sessionOf(a: SimAgent): SimSession;
}

export const createFleetRoster = (ctx: FleetContext, agentCount: number): FleetRoster => {
  const { rng, ids } = ctx;
  let agentCounter = 0;
  const newAgent = (slot: number, role: Role, variant: string | undefined): SimAgent => {
    const short = ids.agentSuffix(agentCounter++);
    const name = rng.chance(0.85) ? `${rng.pick(nameParts.adjective)}-${rng.pick(nameParts.noun)}` : undefined;
    return {
      slot,
      id: `el-${short}`,
      short,
      role,
      variant,
      typeKey: variant === undefined ? role : `${role}:${variant}`,
      name,
      state: 'unregistered',
      connection: null,
      disconnectedAt: 0,
      session: null,
      sessionCount: 0,
      generation: 0,
      pastPids: [],
      held: [],
      terminatingSince: 0,
      darkUntil: 0,
      reconcilerIgnores: false,
      abnormalEnds: [],
      quarantined: false,
    };
  };
  const agents: SimAgent[] = Array.from({ length: agentCount }, (_, slot) => {
    const r = rng.float();
    const role: Role = (slot === 0 && agentCount >= 3) || r < 0.05 ? 'director' : r < 0.3 ? 'steward' : 'worker';
    const variant =
      role === 'worker' ? (rng.chance(0.6) ? 'ephemeral' : undefined) : role === 'steward' ? (rng.chance(0.5) ? 'merge' : undefined) : undefined;
    return newAgent(slot, role, variant);
  });

  const setLive = (a: SimAgent, s: SimSession, live: boolean): void => {
    if (s.live === live) return;
    s.live = live;
    if (s.pool !== undefined && a.role !== 'director') s.pool.live += live ? 1 : -1;
  };
  const rememberPid = (a: SimAgent, pid: number | undefined): void => {
    if (pid === undefined) return;
    a.pastPids.push(pid);
    if (a.pastPids.length > 3) a.pastPids.shift();
  };
  const sessionOf = (a: SimAgent): SimSession => {
    if (a.session === null) throw new Error(`generator bug: ${a.id} in state ${a.state} has no session`);
    return a.session;
  };
  return {
    agents,
    removedIds: [],
    newAgent,
    setLive,
    rememberPid,
    closeSession(a) {
      const s = sessionOf(a);
      setLive(a, s, false);
      rememberPid(a, s.pid);
      a.session = null;
      return s;
    },
    sessionOf,
  };
};
