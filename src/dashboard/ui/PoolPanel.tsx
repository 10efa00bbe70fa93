import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type TimePoint } from '../api.js';
import { useCell } from '../cell.js';
import { lastBatch } from '../live.js';
import { closePool } from '../pool.js';
import { openAgent } from '../story.js';
import { openAgentId, openPoolId, travelPoint } from '../travel.js';
import type { HolderJson, PoolExplainJson, ReleasedBy } from '../../projections/viewJson.js';
import { formatTime } from './format.js';
import { LivenessBadges } from './LivenessBadges.js';
import { SlotHistory } from './SlotHistory.js';
import { Time } from './Time.js';

type Loaded = { kind: 'loading' } | { kind: 'loaded'; answer: PoolExplainJson } | { kind: 'missing' } | { kind: 'error'; message: string };

const ruleText = (r: ReleasedBy): string =>
  `${r.rule}${r.at !== undefined ? ` at ${formatTime(r.at)}` : ''}${r.detail !== undefined ? `: ${r.detail}` : ''}${r.requires !== undefined ? ` (requires ${r.requires})` : ''}`;

/** The first rule that frees some holder's slot by itself at a known time, earliest of all. */
const earliest = (holders: HolderJson[]): { holder: HolderJson; rule: ReleasedBy } | null => {
  let best: { holder: HolderJson; rule: ReleasedBy } | null = null;
  for (const holder of holders) {
    for (const rule of holder.releasedBy) {
      if (rule.at === undefined || rule.requires !== undefined) continue;
      if (best === null || Date.parse(rule.at) < Date.parse(best.rule.at!)) best = { holder, rule };
    }
  }
  return best;
};

/** When a holder's slot frees by itself at the earliest (a timed rule that needs nothing else), else never. */
const freesAt = (h: HolderJson): number => {
  const r = h.releasedBy.find((x) => x.at !== undefined && x.requires === undefined);
  return r === undefined ? Infinity : Date.parse(r.at!);
};

/** Holders in the order their slots free by themselves (suspect and lapsing first); the rest by agent. */
const byRelease = (holders: HolderJson[]): HolderJson[] =>
  [...holders].sort((a, b) => freesAt(a) - freesAt(b) || (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));

/** "Why is this pool full?" in one sentence, from the explain answer. */
const verdict = (a: PoolExplainJson): string => {
  if (!a.exists) return `The pool is not in the log at this moment; ${a.used} session(s) still name it.`;
  const max = a.max ?? 0;
  const state = a.enabled === false ? 'Disabled: no slot is free whatever is held.' : a.used >= max ? `Full: ${a.used} of ${max} slots held.` : `${max - a.used} of ${max} slots free.`;
  const first = earliest(a.holders);
  const next =
    a.holders.length === 0
      ? ''
      : first === null
        ? ' No slot frees by itself at a known time: only a holder’s own end, a pid check or a restart frees one.'
        : ` The earliest a slot frees by itself: ${first.holder.agentId}’s ${first.rule.rule} at ${formatTime(first.rule.at!)}${a.asOf !== null && Date.parse(first.rule.at!) < Date.parse(a.asOf) ? ' (overdue: nothing has acted on it yet)' : ''}.`;
  return state + next;
};

const HolderRow = ({ h }: { h: HolderJson }) => (
  <tr data-agent-id={h.agentId}>
    <th scope="row">
      <button type="button" class="link" onClick={() => openAgent(h.agentId)} aria-label={`Timeline of agent ${h.agentId}`}>
        {h.agentId}
      </button>
      <LivenessBadges suspect={h.suspect} quarantine={h.quarantine} />
      <div>
        <code class="sub">{h.sessionId}</code> <span class={`state ${h.state}`}>{h.state}</span>
      </div>
    </th>
    <td>
      {h.since === null ? (
        '—'
      ) : (
        <>
          {h.since.type} <span class="sub">#{h.since.position}</span>
          <div class="time">
            <Time iso={h.since.at} />
          </div>
        </>
      )}
    </td>
    <td class="wide-only">
      {h.host === null ? '—' : <code class="nowrap">{h.host}</code>}
      {h.epoch !== null && <span class="sub">epoch {h.epoch}</span>}
      {h.pid !== null && <div class="sub">pid {h.pid}</div>}
    </td>
    <td class="time wide-only">
      <Time iso={h.lastSeenAt} />
    </td>
    <td>
      <ol class="rules" data-testid="released-by">
        {h.releasedBy.map((r) => (
          <li data-rule={r.rule}>{ruleText(r)}</li>
        ))}
      </ol>
    </td>
  </tr>
);

/** Each answer folds the log on the server: while live, a busy pool is explained again at most this often. */
const REFRESH_MS = 5000;

const useExplain = (poolId: string | null, point: TimePoint): Loaded => {
  const [state, setState] = useState<Loaded>({ kind: 'loading' });
  const batch = useCell(lastBatch);
  const [seq, setSeq] = useState(0);
  const loadedAt = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // Live: answer again when a change touched this pool (its holders or their sessions changed).
  useEffect(() => {
    if (poolId === null || point !== null || !batch.pools.has(poolId) || timer.current !== undefined) return;
    timer.current = setTimeout(
      () => {
        timer.current = undefined;
        setSeq((n) => n + 1);
      },
      Math.max(0, loadedAt.current + REFRESH_MS - Date.now()),
    );
  }, [batch]);
  useEffect(() => () => clearTimeout(timer.current), []);
  useEffect(() => {
    if (poolId === null) return;
    const ctrl = new AbortController();
    loadedAt.current = Date.now();
    if (seq === 0) setState({ kind: 'loading' });
    api.poolExplain(poolId, point, ctrl.signal).then(
      (answer) => {
        if (!ctrl.signal.aborted) setState(answer === null ? { kind: 'missing' } : { kind: 'loaded', answer });
      },
      (e: unknown) => {
        if (!ctrl.signal.aborted) setState({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
      },
    );
    return () => ctrl.abort();
  }, [poolId, point, seq]);
  return state;
};

/** A pool's panel: why it is as full as it is (GET /v1/pools/{id}/explain) and its slot history. */
export const PoolPanel = () => {
  const poolId = useCell(openPoolId);
  const point = useCell(travelPoint);
  const agentOpen = useCell(openAgentId) !== null;
  const heading = useRef<HTMLHeadingElement>(null);
  const opener = useRef<Element | null>(null);
  const loaded = useExplain(poolId, point);

  useEffect(() => {
    if (poolId === null) return;
    opener.current = document.activeElement;
    heading.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      // The agent's timeline sits on top: Escape closes that first.
      if (e.key === 'Escape' && openAgentId.get() === null) closePool();
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (opener.current instanceof HTMLElement && opener.current.isConnected) opener.current.focus();
    };
  }, [poolId]);

  if (poolId === null) return null;
  const moment = point === null ? 'now' : 'until' in point ? `as of position ${point.until}` : `as of ${formatTime(point.asOf)}`;
  return (
    <aside class={`story pool-panel ${agentOpen ? 'under' : ''}`} aria-labelledby="pool-h" data-testid="pool-panel">
      <header>
        <h2 id="pool-h" tabIndex={-1} ref={heading}>
          Pool <code>{poolId}</code>
        </h2>
        <button type="button" onClick={closePool} aria-label="Close the pool" class="close">
          ×
        </button>
      </header>
      {loaded.kind === 'loading' && <p role="status">Loading…</p>}
      {loaded.kind === 'missing' && <p role="status">No pool {poolId} {moment}.</p>}
      {loaded.kind === 'error' && <p role="alert">Could not explain the pool: {loaded.message}</p>}
      {loaded.kind === 'loaded' && (
        <section aria-labelledby="explain-h" data-testid="explain">
          <h3 id="explain-h">
            Why is it {loaded.answer.max !== null && loaded.answer.used >= loaded.answer.max ? 'full' : 'as full as it is'}? <span class="count">{moment}</span>
          </h3>
          <p class="why counted" data-testid="verdict">
            {verdict(loaded.answer)}
          </p>
          <p class="sub">
            Used <b data-field="used">{loaded.answer.used}</b> of <b data-field="max">{loaded.answer.max ?? '—'}</b>, as of position {loaded.answer.position ?? '—'} (
            {formatTime(loaded.answer.asOf)}).
          </p>
          {loaded.answer.holders.length > 0 && (
            <div class="table-wrap">
              <table data-testid="holders">
                <caption class="sr-only">Sessions holding a slot of the pool, those whose slot frees soonest first, and the rules that would free each, earliest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Agent, session</th>
                    <th scope="col">Live since</th>
                    <th scope="col" class="wide-only">Host</th>
                    <th scope="col" class="wide-only">Last seen</th>
                    <th scope="col">Freed by</th>
                  </tr>
                </thead>
                <tbody>
                  {byRelease(loaded.answer.holders).map((h) => (
                    <HolderRow key={h.sessionId} h={h} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
      {/* In a past view the history ends at the moment shown (known once the explain answer says when that is). */}
      {point === null ? <SlotHistory poolId={poolId} endAt={null} /> : loaded.kind === 'loaded' && <SlotHistory poolId={poolId} endAt={loaded.answer.asOf} />}
    </aside>
  );
};
