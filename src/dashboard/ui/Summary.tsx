import { memo } from 'preact/compat';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ViewModel } from '../model.js';

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

export const Summary = memo(({ view, live }: { view: ViewModel; live: boolean }) => {
  const counts = useMemo(() => {
    let running = 0;
    let busy = 0;
    for (const a of Object.values(view.agents)) {
      if (a.status === 'running') running++;
      if (a.busy) busy++;
    }
    let used = 0;
    let max = 0;
    let free = 0;
    for (const p of Object.values(view.pools)) {
      used += p.status.activeCount;
      max += p.maxSize;
      free += p.status.availableSlots;
    }
    return { running, busy, used, max, free, agents: Object.keys(view.agents).length };
  }, [view.agents, view.pools]);
  const history = useRef<number[]>([]);
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!live) return;
    history.current = [...history.current.slice(-(SAMPLES - 1)), counts.running];
    setTick((n) => n + 1);
  }, [counts.running, view.position, live]);
  return (
    <section class="summary" aria-label="Fleet summary" data-testid="summary">
      <dl>
        <div>
          <dt>Running</dt>
          <dd data-field="running">{counts.running.toLocaleString('en-US')}</dd>
        </div>
        <div>
          <dt>Busy</dt>
          <dd data-field="busy">{counts.busy.toLocaleString('en-US')}</dd>
        </div>
        <div>
          <dt>Agents</dt>
          <dd>{counts.agents.toLocaleString('en-US')}</dd>
        </div>
        <div>
          <dt>Pool slots used</dt>
          <dd>
            {counts.used} / {counts.max}
          </dd>
        </div>
        <div>
          <dt>Free slots</dt>
          <dd>{counts.free}</dd>
        </div>
        <div>
          <dt>Anomalies</dt>
          <dd>{view.anomalies.count.toLocaleString('en-US')}</dd>
        </div>
      </dl>
      {live && <Sparkline values={history.current} label="Running agents since this page opened" />}
    </section>
  );
});
