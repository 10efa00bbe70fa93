import { memo } from 'preact/compat';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { PoolJson } from '../../projections/viewJson.js';

const SAMPLES = 120;

/** Running agents over the time this page has been open (one sample per update). */
const Sparkline = ({ values, label }: { values: number[]; label: string }) => {
  if (values.length < 2) return null;
  const max = Math.max(1, ...values);
  const w = 120;
  const h = 28;
  const points = values.map((v, i) => `${((i / (SAMPLES - 1)) * w).toFixed(1)},${(h - (v / max) * (h - 2) - 1).toFixed(1)}`).join(' ');
  return (
    <svg class="spark" viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-label={label}>
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
};

export interface SummaryProps {
  running: number;
  busy: number;
  agents: number;
  anomalies: number;
  pools: ReadonlyMap<string, PoolJson>;
  poolsVersion: number;
  position: string | null;
  live: boolean;
}

export const Summary = memo(({ running, busy, agents, anomalies, pools, poolsVersion, position, live }: SummaryProps) => {
  const slots = useMemo(() => {
    let used = 0;
    let max = 0;
    let free = 0;
    for (const p of pools.values()) {
      used += p.status.activeCount;
      max += p.maxSize;
      free += p.status.availableSlots;
    }
    return { used, max, free };
  }, [pools, poolsVersion]);
  const history = useRef<number[]>([]);
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!live) return;
    history.current = [...history.current.slice(-(SAMPLES - 1)), running];
    setTick((n) => n + 1);
  }, [running, position, live]);
  return (
    <section class="summary" aria-label="Fleet summary" data-testid="summary">
      <dl>
        <div>
          <dt>Running</dt>
          <dd data-field="running">{running.toLocaleString('en-US')}</dd>
        </div>
        <div>
          <dt>Busy</dt>
          <dd data-field="busy">{busy.toLocaleString('en-US')}</dd>
        </div>
        <div>
          <dt>Agents</dt>
          <dd>{agents.toLocaleString('en-US')}</dd>
        </div>
        <div>
          <dt>Pool slots used</dt>
          <dd>
            {slots.used} / {slots.max}
          </dd>
        </div>
        <div>
          <dt>Free slots</dt>
          <dd>{slots.free}</dd>
        </div>
        <div>
          <dt>Anomalies</dt>
          <dd>{anomalies.toLocaleString('en-US')}</dd>
        </div>
      </dl>
      {live && <Sparkline values={history.current} label="Running agents since this page opened" />}
    </section>
  );
});
