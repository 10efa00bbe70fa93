import type { FleetContext } from './fleetContext.js';
import { poolTemplates, type SimAgent, type SimPool } from './fleetModel.js';
import type { DataOf, GeneratedEvent } from './generatedEvent.js';

export interface FleetPools {
  readonly pools: readonly SimPool[];
  createPool(p: SimPool): GeneratedEvent;
  /** One change of configuration (resize, enable/disable, rename, retype, delete, re-create). */
  poolStep(): GeneratedEvent;
  /** The pool for a new session; undefined = unpooled, null = no free slot, wait. */
  choosePool(a: SimAgent): SimPool | undefined | null;
}

/** The fleet's pools, from the templates, sized to share about 60 % of the agents. */
export const createFleetPools = (ctx: FleetContext, agentCount: number): FleetPools => {
  const { rng, ids } = ctx;
  const { make } = ctx.events;
  const poolCount = Math.min(poolTemplates.length, Math.max(1, Math.ceil(agentCount / 8)));
  const taken = new Set<string>();
  const pools: SimPool[] = poolTemplates.slice(0, poolCount).map((t) => {
    let id: string;
    do id = ids.poolId();
    while (taken.has(id));
    taken.add(id);
    const share = (agentCount * 0.6) / poolCount;
    const maxSize = Math.max(1, Math.round(share * (0.7 + 0.6 * rng.float())));
    return {
      id,
      name: t.name,
      maxSize,
      plannedSize: maxSize,
      agentTypes: [...t.agentTypes],
      templateTypes: t.agentTypes,
      enabled: true,
      exists: false,
      live: 0,
    };
  });

  const createPool = (p: SimPool): GeneratedEvent => {
    p.exists = true;
    p.enabled = true;
    const data: DataOf<'PoolCreated'> = { poolId: p.id, name: p.name, maxSize: p.maxSize };
    if (p.agentTypes.length > 0 || rng.chance(0.5)) data.agentTypes = p.agentTypes;
    if (rng.chance(0.3)) data.enabled = true;
    return make('PoolCreated', data, 'api');
  };

  const resize = (p: SimPool): GeneratedEvent => {
    // Resizing below the live count is how pools end up over capacity.
    let by = rng.pick([-2, -1, 1, 2]);
    // A random walk, kept between 0 and about twice the planned size.
    if (p.maxSize + by < 0 || p.maxSize + by > 2 * p.plannedSize + 2) by = -by;
    p.maxSize = Math.max(0, p.maxSize + by);
    return make('PoolUpdated', { poolId: p.id, maxSize: p.maxSize }, 'api');
  };
  const changes: readonly (readonly [weight: number, change: (p: SimPool) => GeneratedEvent])[] = [
    [8, resize],
    [
      4,
      (p) => {
        p.enabled = !p.enabled;
        return make('PoolUpdated', { poolId: p.id, enabled: p.enabled }, 'api');
      },
    ],
    [
      2,
      (p) => {
        p.name = `${p.name.split('#')[0]}#${rng.int(2, 9)}`;
        return make('PoolUpdated', { poolId: p.id, name: p.name, maxSize: p.maxSize }, 'api');
      },
    ],
    [
      3,
      (p) => {
        p.agentTypes = p.agentTypes.length > 0 ? [] : p.templateTypes.length > 0 ? [...p.templateTypes] : ['worker:ephemeral'];
        return make('PoolUpdated', { poolId: p.id, agentTypes: p.agentTypes }, 'api');
      },
    ],
    [
      2,
      (p) => {
        p.exists = false;
        return make('PoolDeleted', { poolId: p.id }, 'api');
      },
    ],
  ];
  const changeTotal = changes.reduce((sum, [w]) => sum + w, 0);

  const eligible = (p: SimPool, a: SimAgent): boolean =>
    p.exists && p.enabled && p.live < p.maxSize && (p.agentTypes.length === 0 || p.agentTypes.includes(a.typeKey));

  return {
    pools,
    createPool,
    poolStep() {
      const p = rng.pick(pools);
      if (!p.exists) return createPool(p);
      if (!p.enabled && rng.chance(0.6)) {
        p.enabled = true;
        return make('PoolUpdated', { poolId: p.id, enabled: true }, 'api');
      }
      let r = rng.float() * changeTotal;
      for (const [weight, change] of changes) {
        r -= weight;
        if (r < 0) return change(p);
      }
      return resize(p);
    },
    choosePool(a) {
      if (a.role === 'director') {
        // Directors are not counted by pools, but a few are dispatched through one anyway.
        const existing = pools.filter((p) => p.exists);
        return existing.length > 0 && rng.chance(0.1) ? rng.pick(existing) : undefined;
      }
      if (rng.chance(0.08)) return undefined;
      const free = pools.filter((p) => eligible(p, a));
      if (free.length > 0) return rng.pick(free);
      return rng.chance(0.2) ? undefined : null;
    },
  };
};
