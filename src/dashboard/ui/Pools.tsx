import { memo } from 'preact/compat';
import { openPool } from '../pool.js';
import type { PoolJson } from '../../projections/viewJson.js';
import { Breakable } from './Breakable.js';
import { Pager, usePaging } from './Pager.js';

const PoolRow = memo(({ pool }: { pool: PoolJson }) => {
  const { activeCount, availableSlots, overCapacityBy, activeByType } = pool.status;
  const share = pool.maxSize === 0 ? (activeCount > 0 ? 1 : 0) : Math.min(1, activeCount / pool.maxSize);
  const types = Object.entries(activeByType).sort(([a], [b]) => (a < b ? -1 : 1));
  const cls = [!pool.enabled && 'disabled', overCapacityBy > 0 && 'over'].filter(Boolean).join(' ');
  return (
    <tr data-pool-id={pool.poolId} class={cls}>
      <th scope="row">
        <span class="pool-name">{pool.name}</span>{' '}
        <button type="button" class="link" onClick={() => openPool(pool.poolId)} aria-label={`Why pool ${pool.poolId} is as full as it is, and its slot history`}>
          {pool.poolId}
        </button>
        {!pool.enabled && <span class="badge muted" data-badge="disabled">disabled</span>}
        {overCapacityBy > 0 && <span class="badge bad" data-badge="over">over capacity by {overCapacityBy}</span>}
      </th>
      <td class="used">
        <span class="bar" aria-hidden="true">
          <span style={{ width: `${(share * 100).toFixed(1)}%` }} />
        </span>
        <span class="num" data-col="used">
          {activeCount} / {pool.maxSize}
        </span>
      </td>
      <td class="num" data-col="free">
        {availableSlots}
      </td>
      <td class="types">
        {types.length === 0
          ? '—'
          : types.map(([t, n], i) => (
              <>
                {i > 0 && ', '}
                <Breakable text={t} /> {n}
              </>
            ))}
      </td>
    </tr>
  );
});

/** `version` changes whenever `pools` (patched in place) does. */
export const Pools = memo(({ pools, ids }: { pools: ReadonlyMap<string, PoolJson>; ids: readonly string[]; version: number }) => {
  const paging = usePaging(ids.length, 50);
  return (
    <section class="card pools" aria-labelledby="pools-h" data-testid="pools">
      <h2 id="pools-h">
        Pools <span class="count">{ids.length}</span>
      </h2>
      {ids.length === 0 ? (
        <p class="empty">No pools.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Pools: used slots of the maximum, free slots, active agents by type; choose a pool to see why it is full and who held its slots when</caption>
            <thead>
              <tr>
                <th scope="col">Pool</th>
                <th scope="col">Used / max</th>
                <th scope="col">Free</th>
                <th scope="col">Active by type</th>
              </tr>
            </thead>
            <tbody>
              {ids.slice(paging.start, paging.end).map((id) => (
                <PoolRow key={id} pool={pools.get(id)!} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Pools" paging={paging} />
    </section>
  );
});
