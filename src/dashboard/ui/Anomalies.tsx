import { memo } from 'preact/compat';
import type { AnomaliesJson } from '../../projections/viewJson.js';
import { Breakable } from './Breakable.js';
import { Pager, usePaging } from './Pager.js';

/** What each reason means, in a few words (SPEC §2's rules). */
const MEANING: Record<string, string> = {
  duplicate: 'event id already applied',
  'invalid-transition': 'not allowed from the session’s state',
  'session-agent-mismatch': 'names another agent’s session',
  'unknown-agent': 'agent never registered',
  'removed-agent': 'agent was removed',
  'unknown-session': 'session unknown',
  'stale-generation': 'older generation',
  'stale-pid': 'pid of no live session',
  'stale-connection': 'not the current connection',
  'unknown-pool': 'pool unknown',
  'pool-exists': 'pool already exists',
  'agent-exists': 'agent already registered',
  'invalid-event': 'undecodable stored event',
  'stale-epoch': 'from before its host restarted',
  'quarantined-start': 'started while quarantined (applied)',
};

export const Anomalies = memo(({ anomalies }: { anomalies: AnomaliesJson }) => {
  const reasons = Object.entries(anomalies.byReason)
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const recent = [...anomalies.recent].reverse();
  const paging = usePaging(recent.length, 15);
  return (
    <section class="card anomalies" aria-labelledby="anomalies-h" data-testid="anomalies">
      <h2 id="anomalies-h">
        Anomalies <span class="count">{anomalies.count.toLocaleString('en-US')}</span>
      </h2>
      <p class="hint">Events the rules ignored: they changed nothing.</p>
      {reasons.length > 0 && (
        <div class="table-wrap">
          <table class="compact">
            <caption class="sr-only">Anomalies by reason</caption>
            <thead>
              <tr>
                <th scope="col">Reason</th>
                <th scope="col">Count</th>
              </tr>
            </thead>
            <tbody>
              {reasons.map(([reason, n]) => (
                <tr key={reason} data-reason={reason}>
                  <th scope="row">
                    <Breakable text={reason} /> <span class="sub">{MEANING[reason] ?? ''}</span>
                  </th>
                  <td class="num">{n.toLocaleString('en-US')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {recent.length > 0 && (
        <>
          <h3>Newest</h3>
          <div class="table-wrap">
            <table class="compact">
              <caption class="sr-only">Newest anomalies, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Position</th>
                  <th scope="col">Event</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {recent.slice(paging.start, paging.end).map((a) => (
                  <tr key={`${a.position}-${a.reason}`}>
                    <th scope="row" class="num">
                      #{a.position}
                    </th>
                    <td>
                      {a.type === null ? '—' : <Breakable text={a.type} />}
                      {a.eventId !== null && <code class="sub">{a.eventId.slice(0, 8)}</code>}
                    </td>
                    <td>
                      <Breakable text={a.reason} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager label="Newest anomalies" paging={paging} />
        </>
      )}
    </section>
  );
});
