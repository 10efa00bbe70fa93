import { registration } from './agentActions.js';
import type { FleetContext } from './fleetContext.js';
import type { FleetPools } from './fleetPools.js';
import type { FleetRoster } from './fleetRoster.js';
import type { GeneratedEvent } from './generatedEvent.js';

/**
 * Events the projection must ignore: other orchestrators, buggy producers, agents already gone.
 * Returns null when the drawn kind does not apply right now (the caller draws again).
 */
export const createStrays = (ctx: FleetContext, roster: FleetRoster, fleetPools: FleetPools): (() => GeneratedEvent | null) => {
  const { rng, ids } = ctx;
  const { make } = ctx.events;
  return () => {
    const source = 'dispatch-daemon';
    const agents = roster.agents;
    const known = rng.pick(agents);
    switch (rng.int(0, 6)) {
      case 0: {
        const agentId = `el-${ids.ghostSuffix()}`;
        return rng.chance(0.5)
          ? make('AgentHeartbeat', { agentId }, 'agent')
          : make('AgentSpawned', { agentId, sessionId: `ses-${ids.ghostSerial()}`, pid: ids.nextPid() }, source);
      }
      case 1: {
        if (known.state === 'unregistered') return null;
        const sessionId = `ses-${known.short}-x${ids.ghostSerial()}`;
        return rng.chance(0.5)
          ? make('SessionEnded', { agentId: known.id, sessionId, reason: 'completed' }, source)
          : make('RunStarted', { agentId: known.id, sessionId, generation: known.generation }, 'agent-runtime');
      }
      case 2: {
        const owner = rng.pick(agents);
        if (known.state === 'unregistered' || owner === known || owner.session === null) return null;
        return make('SessionEnded', { agentId: known.id, sessionId: owner.session.id, reason: 'completed' }, source);
      }
      case 3: {
        if (roster.removedIds.length === 0) return null;
        const agentId = rng.pick(roster.removedIds);
        return rng.chance(0.7)
          ? make('AgentHeartbeat', { agentId }, 'agent')
          : make('AgentRegistered', { agentId, role: 'worker', variant: 'ephemeral' }, 'api');
      }
      case 4:
        // The agent restarted and announces itself again.
        return known.state === 'unregistered' ? null : make('AgentRegistered', registration(known), 'agent');
      case 5: {
        // A second API instance re-applies its boot config.
        const p = rng.pick(fleetPools.pools);
        return p.exists ? make('PoolCreated', { poolId: p.id, name: p.name, maxSize: p.maxSize }, 'api') : null;
      }
      default:
        return make('PoolUpdated', { poolId: `pl-${ids.ghostSuffix()}`, enabled: false }, 'api');
    }
  };
};
