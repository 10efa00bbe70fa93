import { memo } from 'preact/compat';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { openAgent } from '../story.js';
import type { SessionJson } from '../../projections/viewJson.js';
import { formatAge } from './format.js';
import { Pager, usePaging } from './Pager.js';
import { Time } from './Time.js';

/** The reconciler's default: a session starting or terminating longer than this is stuck. */
const STUCK_MS = 10 * 60 * 1000;

const since = (s: SessionJson): string | null => (s.state === 'terminating' ? (s.terminatingSince ?? s.startedAt) : s.startedAt);

/** Wall clock, ticking, so ages grow while the page is open. */
const useNow = (everyMs: number): number => {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
};

/**
 * Sessions in `starting` or `terminating`, oldest first. Ages run against the wall clock when live,
 * and against the viewed moment (`at`) when travelling.
 */
export interface StuckSessionsProps {
  sessions: ReadonlyMap<string, SessionJson>;
  pendingIds: ReadonlySet<string>;
  /** Changes whenever `sessions` (patched in place) does. */
  version: number;
  at: number | null;
}

export const StuckSessions = memo(({ sessions, pendingIds, version, at }: StuckSessionsProps) => {
  const wall = useNow(5000);
  const now = at ?? wall;
  const list = useMemo(
    () =>
      [...pendingIds]
        .map((id) => sessions.get(id)!)
        .sort((a, b) => ((since(a) ?? '') < (since(b) ?? '') ? -1 : 1)),
    [pendingIds, version],
  );
  const paging = usePaging(list.length, 12);
  const stuck = list.filter((s) => now - Date.parse(since(s) ?? '') > STUCK_MS).length;
  return (
    <section class="card stuck" aria-labelledby="stuck-h" data-testid="stuck">
      <h2 id="stuck-h">
        Starting or terminating <span class="count">{list.length}</span>
        {stuck > 0 && <span class="badge bad">{stuck} over 10 min</span>}
      </h2>
      {list.length === 0 ? (
        <p class="empty">No session is starting or terminating.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Sessions starting or terminating, oldest first, with their age</caption>
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">Agent</th>
                <th scope="col">State</th>
                <th scope="col">Age</th>
                <th scope="col" class="wide-only">Since</th>
              </tr>
            </thead>
            <tbody>
              {list.slice(paging.start, paging.end).map((s) => {
                const age = now - Date.parse(since(s) ?? '');
                return (
                  <tr key={s.sessionId} data-session-id={s.sessionId} class={age > STUCK_MS ? 'late' : ''}>
                    <th scope="row">
                      <code>{s.sessionId}</code>
                      {s.poolId !== null && <span class="sub">{s.poolId}</span>}
                    </th>
                    <td>
                      <button type="button" class="link" onClick={() => openAgent(s.agentId)} aria-label={`Timeline of agent ${s.agentId}`}>
                        {s.agentId}
                      </button>
                    </td>
                    <td>
                      <span class={`state ${s.state}`}>{s.state}</span>
                    </td>
                    <td class="num">{formatAge(age)}</td>
                    <td class="time wide-only">
                      <Time iso={since(s)} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Starting or terminating sessions" paging={paging} />
    </section>
  );
});
