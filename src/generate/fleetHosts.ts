import type { AgentActions } from './agentActions.js';
import type { FleetContext } from './fleetContext.js';
import type { SimAgent } from './fleetModel.js';
import type { FleetRoster } from './fleetRoster.js';
import type { DataOf, GeneratedEvent } from './generatedEvent.js';

/** Agents per orchestrator host. */
const AGENTS_PER_HOST = 40;

export interface FleetHosts {
  readonly names: readonly string[];
  /** The host an agent's processes run on (fixed by its slot). */
  hostOf(a: SimAgent): string;
  /** The host's orchestrator epoch; 0 before it announced one. */
  epochOf(host: string): number;
  /** The host's orchestrator starts anew (SPEC §7.1): adopts about half its live sessions, the others end. */
  restart(host: string, actions: AgentActions): GeneratedEvent;
}

/** The orchestrator daemons of the fleet, one per host, that restart now and then. */
export const createFleetHosts = (ctx: FleetContext, roster: FleetRoster, agentCount: number): FleetHosts => {
  const { rng, events } = ctx;
  const names = Array.from({ length: Math.max(1, Math.ceil(agentCount / AGENTS_PER_HOST)) }, (_, i) => `node-${i + 1}`);
  const epochs = new Map(names.map((n) => [n, 0]));
  return {
    names,
    hostOf: (a) => names[a.slot % names.length]!,
    epochOf: (host) => epochs.get(host) ?? 0,
    restart(host, actions) {
      const epoch = (epochs.get(host) ?? 0) + 1;
      epochs.set(host, epoch);
      const adopted: NonNullable<DataOf<'OrchestratorStarted'>['adopted']> = [];
      for (const a of roster.agents) {
        // The projection ends lapsed leases before it applies the restart: so does the simulation.
        actions.lapse(a);
        const s = a.session;
        if (s === null || !s.live || s.host !== host) continue;
        // The new daemon finds the process alive (and says its pid), or the process died with the old one.
        if (s.pid !== undefined && rng.chance(0.5)) {
          adopted.push({ agentId: a.id, sessionId: s.id, pid: s.pid });
          continue;
        }
        roster.closeSession(a);
        actions.endedAbnormally(a);
        // The old daemon's report of that end arrives after the restart: fenced (stale-epoch).
        if (epoch > 1 && rng.chance(ctx.rates.late)) {
          const late = events.make('SessionEnded', { agentId: a.id, sessionId: s.id, reason: 'exit code 143 (SIGTERM)', epoch: epoch - 1 }, 'orchestrator');
          late.metadata.at = events.iso(ctx.clock.now - 1);
          ctx.deliveries.hold(a, late);
        }
        if (a.state !== 'dark') a.state = 'idle';
      }
      const data: DataOf<'OrchestratorStarted'> = { host, epoch };
      if (adopted.length > 0) data.adopted = adopted;
      return events.make('OrchestratorStarted', data, 'orchestrator');
    },
  };
};
