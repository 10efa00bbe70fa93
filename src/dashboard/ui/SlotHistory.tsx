import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api.js';
import { openAgent } from '../story.js';
import type { PoolSlotHistoryJson, SlotIntervalJson } from '../../projections/viewJson.js';
import { formatAge, formatTime } from './format.js';
import { Time } from './Time.js';

type Range = { from: string; to: string };
type Loaded = { kind: 'loading' } | { kind: 'loaded'; answer: PoolSlotHistoryJson } | { kind: 'missing' } | { kind: 'error'; message: string };

const PRESETS: Array<[string, number]> = [
  ['15 min', 15 * 60_000],
  ['1 h', 60 * 60_000],
  ['6 h', 6 * 60 * 60_000],
  ['24 h', 24 * 60 * 60_000],
];

const iso = (ms: number) => new Date(ms).toISOString();
const heldAt = (i: SlotIntervalJson, ms: number) => Date.parse(i.from) <= ms && (i.to === null || Date.parse(i.to) > ms);

/** Four to six round times across the range, for the axis. */
const ticks = (fromMs: number, toMs: number): number[] => {
  const span = Math.max(1, toMs - fromMs);
  const steps = [60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000];
  const step = steps.find((s) => span / s <= 6) ?? 86_400_000;
  const out: number[] = [];
  for (let t = Math.ceil(fromMs / step) * step; t <= toMs; t += step) out.push(t);
  return out;
};

const hhmm = (ms: number) => iso(ms).slice(11, 16);

/**
 * Who held which slot of the pool when (GET /v1/pools/{id}/slots): one lane per slot, a bar per
 * hold, and "who held the slots at T" as a table, the chart's accessible equivalent.
 */
export const SlotHistory = ({ poolId, endAt }: { poolId: string; endAt: string | null }) => {
  // The range starts as the server's default (the log's last hour), or the hour before the viewed moment.
  const initial = (): Range | null => (endAt !== null ? { from: iso(Date.parse(endAt) - 3_600_000), to: endAt } : null);
  const [range, setRange] = useState<Range | null>(initial);
  const [fromText, setFromText] = useState('');
  const [toText, setToText] = useState('');
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  const [cursor, setCursor] = useState<number | null>(null);
  const [cursorText, setCursorText] = useState('');
  useEffect(() => setRange(initial()), [poolId, endAt]);

  useEffect(() => {
    const ctrl = new AbortController();
    setLoaded({ kind: 'loading' });
    api.poolSlots(poolId, range, ctrl.signal).then(
      (answer) => {
        if (ctrl.signal.aborted) return;
        setLoaded(answer === null ? { kind: 'missing' } : { kind: 'loaded', answer });
        if (answer !== null) {
          setFromText(answer.from);
          setToText(answer.to);
          setCursor(Date.parse(answer.to));
          setCursorText(answer.to);
        }
      },
      (e: unknown) => {
        if (!ctrl.signal.aborted) setLoaded({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
      },
    );
    return () => ctrl.abort();
  }, [poolId, range]);

  const answer = loaded.kind === 'loaded' ? loaded.answer : null;
  const fromMs = answer === null ? 0 : Date.parse(answer.from);
  const toMs = answer === null ? 1 : Date.parse(answer.to);
  const span = Math.max(1, toMs - fromMs);
  const pct = (ms: number) => ((Math.min(toMs, Math.max(fromMs, ms)) - fromMs) / span) * 100;
  const lanes = answer === null ? 0 : Math.max(answer.slots, answer.max ?? 0);
  const byLane = useMemo(() => {
    const out: SlotIntervalJson[][] = Array.from({ length: lanes }, () => []);
    for (const i of answer?.intervals ?? []) out[i.slot]?.push(i);
    return out;
  }, [answer, lanes]);
  const holders = answer === null || cursor === null ? [] : answer.intervals.filter((i) => heldAt(i, cursor)).sort((a, b) => a.slot - b.slot);

  const show = (r: Range) => {
    if (Number.isFinite(Date.parse(r.from)) && Number.isFinite(Date.parse(r.to))) setRange({ from: iso(Date.parse(r.from)), to: iso(Date.parse(r.to)) });
  };

  return (
    <section class="slots" aria-labelledby="slots-h" data-testid="slot-history">
      <h3 id="slots-h">Slot history</h3>
      <form
        class="range"
        onSubmit={(e) => {
          e.preventDefault();
          show({ from: fromText.trim(), to: toText.trim() });
        }}
      >
        <label>
          From
          <input type="text" name="from" value={fromText} onInput={(e) => setFromText(e.currentTarget.value)} spellcheck={false} />
        </label>
        <label>
          To
          <input type="text" name="to" value={toText} onInput={(e) => setToText(e.currentTarget.value)} spellcheck={false} />
        </label>
        <button type="submit">Show</button>
        <span class="presets" role="group" aria-label="Range ending at To">
          {PRESETS.map(([label, ms]) => (
            <button type="button" onClick={() => answer !== null && show({ from: iso(toMs - ms), to: answer.to })} disabled={answer === null}>
              {label}
            </button>
          ))}
        </span>
      </form>
      {loaded.kind === 'loading' && <p role="status">Loading…</p>}
      {loaded.kind === 'missing' && <p role="status">No pool {poolId} in that range.</p>}
      {loaded.kind === 'error' && <p role="alert">Could not load the slot history: {loaded.message}</p>}
      {answer !== null && (
        <>
          <p class="sub" data-testid="slots-summary">
            {answer.intervals.length} holds of {lanes} slots over {formatAge(span)} ({formatTime(answer.from)} to {formatTime(answer.to)})
            {answer.truncated ? '; the oldest holds are left out' : ''}. Choose a moment on the chart to see who held the slots then.
          </p>
          <div class="gantt" aria-hidden="true" data-testid="gantt">
            <div class="gantt-axis">
              {ticks(fromMs, toMs).map((t) => (
                <span style={{ left: `${pct(t)}%` }}>{hhmm(t)}</span>
              ))}
            </div>
            {byLane.map((holds, slot) => (
              <div class={`lane ${answer.max !== null && slot >= answer.max ? 'over' : ''}`} data-slot={slot}>
                <span class="lane-label">{slot + 1}</span>
                <div
                  class="lane-track"
                  onClick={(e) => {
                    const box = e.currentTarget.getBoundingClientRect();
                    const ms = fromMs + ((e.clientX - box.left) / box.width) * span;
                    setCursor(ms);
                    setCursorText(iso(ms));
                  }}
                >
                  {holds.map((i) => {
                    const end = i.to === null ? toMs : Date.parse(i.to);
                    const cls = i.to === null ? 'held' : i.abnormal ? 'abnormal' : 'ended';
                    return (
                      <div
                        class={`hold ${cls}`}
                        data-session-id={i.sessionId}
                        style={{ left: `${pct(Date.parse(i.from))}%`, width: `max(2px, ${pct(end) - pct(Date.parse(i.from))}%)` }}
                        title={`${i.agentId} · ${i.sessionId}\n${formatTime(i.from)} → ${i.to === null ? 'still held' : `${formatTime(i.to)} (${i.endedAs ?? 'ended'})`}`}
                      >
                        <span>{i.agentId}</span>
                      </div>
                    );
                  })}
                  {cursor !== null && <div class="cursor" style={{ left: `${pct(cursor)}%` }} />}
                </div>
              </div>
            ))}
          </div>
          <p class="legend sub">
            <span class="hold held" /> still held <span class="hold ended" /> ended <span class="hold abnormal" /> ended abnormally (lease, restart, crash)
            {answer.max !== null && lanes > answer.max && ' · lanes past the maximum are shaded'}
          </p>
          <form
            class="range"
            onSubmit={(e) => {
              e.preventDefault();
              const ms = Date.parse(cursorText.trim());
              if (Number.isFinite(ms)) setCursor(ms);
            }}
          >
            <label>
              Who held the slots at
              <input type="text" name="at" value={cursorText} onInput={(e) => setCursorText(e.currentTarget.value)} spellcheck={false} />
            </label>
            <button type="submit">Show</button>
          </form>
          <div class="table-wrap">
            <table class="compact" data-testid="held-at">
              <caption class="sr-only">Who held each slot at the chosen moment</caption>
              <thead>
                <tr>
                  <th scope="col" class="num">Slot</th>
                  <th scope="col">Agent, session</th>
                  <th scope="col">From</th>
                  <th scope="col">Until</th>
                </tr>
              </thead>
              <tbody>
                {holders.length === 0 ? (
                  <tr>
                    <td colSpan={4} class="empty">
                      No slot was held at {cursor === null ? '—' : formatTime(iso(cursor))}.
                    </td>
                  </tr>
                ) : (
                  holders.map((i) => (
                    <tr data-session-id={i.sessionId}>
                      <td class="num">{i.slot + 1}</td>
                      <th scope="row">
                        <button type="button" class="link" onClick={() => openAgent(i.agentId)} aria-label={`Timeline of agent ${i.agentId}`}>
                          {i.agentId}
                        </button>{' '}
                        <code class="sub">{i.sessionId}</code>
                      </th>
                      <td class="time">
                        <Time iso={i.from} />
                      </td>
                      <td class="time">
                        {i.to === null ? 'still held' : <Time iso={i.to} />} {i.endedAs !== null && <span class="sub">{i.endedAs}</span>}
                      </td>
                    </tr>
                  ))
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
};
