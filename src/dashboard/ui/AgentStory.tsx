import { useEffect, useRef, useState } from 'preact/hooks';
import { useCell } from '../cell.js';
import { closeAgent, openAgent, story } from '../story.js';
import { travelPoint } from '../travel.js';
import type { AuditEntryJson } from '../../projections/viewJson.js';
import { LivenessBadges } from './LivenessBadges.js';
import { Pager, usePaging } from './Pager.js';
import { Time } from './Time.js';

const brief = (data: Record<string, unknown>): string =>
  Object.entries(data)
    .filter(([k]) => k !== 'agentId')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');

const Entry = ({ e, after }: { e: AuditEntryJson; after: boolean }) => (
  <tr class={[e.anomaly !== null && 'ignored', after && 'after'].filter(Boolean).join(' ')} data-position={e.position}>
    <th scope="row" class="num">
      #{e.position}
    </th>
    <td class="time">
      <Time iso={e.at} />
    </td>
    <td>
      <b>{e.type}</b> <span class="sub">{brief(e.data)}</span>
    </td>
    <td>
      {e.anomaly !== null ? (
        <span class="badge bad">ignored: {e.anomaly}</span>
      ) : e.changes.length === 0 ? (
        <span class="sub">no change</span>
      ) : (
        <ul class="changes">
          {e.changes.map((c) => (
            <li>{c}</li>
          ))}
        </ul>
      )}
      {after && <span class="sub"> (after the viewed moment)</span>}
    </td>
  </tr>
);

/** An agent's timeline and the plain answer to "why is it (not) counted?". */
export const AgentStory = () => {
  const s = useCell(story);
  const point = useCell(travelPoint);
  const heading = useRef<HTMLHeadingElement>(null);
  const opener = useRef<Element | null>(null);
  const open = s.kind !== 'closed';
  const agentId = s.kind === 'closed' ? null : s.agentId;
  const entries = s.kind === 'loaded' ? s.audit.entries : [];
  const paging = usePaging(entries.length, 100, agentId);

  useEffect(() => {
    if (!open) return;
    opener.current = document.activeElement;
    heading.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') closeAgent();
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (opener.current instanceof HTMLElement && opener.current.isConnected) opener.current.focus();
    };
  }, [agentId]);

  if (s.kind === 'closed') return null;
  const until = point !== null && 'until' in point ? BigInt(point.until) : null;
  const asOf = point !== null && 'asOf' in point ? point.asOf : null;
  const isAfter = (e: AuditEntryJson) => (until !== null ? BigInt(e.position) > until : asOf !== null ? Date.parse(e.at) > Date.parse(asOf) : false);
  const counted = s.kind === 'loaded' && s.audit.agent?.status === 'running';
  const a = s.kind === 'loaded' ? s.audit.agent : null;
  const anomalies = entries.filter((e) => e.anomaly !== null).length;

  return (
    <aside class="story" aria-labelledby="story-h" data-testid="story">
      <header>
        <h2 id="story-h" tabIndex={-1} ref={heading}>
          Agent <code>{s.agentId}</code>
        </h2>
        <button type="button" onClick={closeAgent} aria-label="Close the timeline" class="close">
          ×
        </button>
      </header>
      {s.kind === 'loading' && <p role="status">Loading the timeline…</p>}
      {s.kind === 'missing' && <p role="status">No agent {s.agentId} in the log.</p>}
      {s.kind === 'error' && <p role="alert">Could not load the timeline: {s.message}</p>}
      {s.kind === 'loaded' && (
        <>
          <section class={`why ${counted ? 'counted' : 'not-counted'}`} aria-labelledby="why-h" data-testid="why">
            <h3 id="why-h">{counted ? 'Why is it counted?' : 'Why is it not counted?'}</h3>
            <ul>
              {s.audit.explanation.map((line) => (
                <li>{line}</li>
              ))}
            </ul>
            {point !== null && <p class="sub">This answer is about the end of the log, not the viewed moment.</p>}
          </section>
          {a !== null && (
            <dl class="facts">
              <div>
                <dt>Type</dt>
                <dd>{a.type}</dd>
              </div>
              <div>
                <dt>Status</dt>
                <dd>
                  {a.status}
                  {a.busy ? ', busy' : ''}
                  <LivenessBadges suspect={a.suspect} quarantine={a.quarantine} />
                </dd>
              </div>
              <div>
                <dt>Session</dt>
                <dd>{a.currentSessionId ?? '—'}</dd>
              </div>
              <div>
                <dt>PID</dt>
                <dd>{a.pid ?? '—'}</dd>
              </div>
              <div>
                <dt>Generation</dt>
                <dd>{a.generation}</dd>
              </div>
              <div>
                <dt>Connection</dt>
                <dd>{a.connection === null ? '—' : `${a.connection.connectionId} ${a.connection.state}`}</dd>
              </div>
            </dl>
          )}
          <h3 id="timeline-h">
            Timeline: <span data-field="entries">{entries.length}</span> events, {anomalies} ignored
          </h3>
          <div class="table-wrap">
            <table aria-labelledby="timeline-h" data-testid="timeline" class="timeline">
              <thead>
                <tr>
                  <th scope="col">Position</th>
                  <th scope="col">Time</th>
                  <th scope="col">Event</th>
                  <th scope="col">What it changed</th>
                </tr>
              </thead>
              <tbody>
                {entries.slice(paging.start, paging.end).map((e) => (
                  <Entry key={e.position} e={e} after={isAfter(e)} />
                ))}
              </tbody>
            </table>
          </div>
          <Pager label="Timeline" paging={paging} />
        </>
      )}
    </aside>
  );
};

/** Open any agent's timeline by id, also one no longer in the view. */
export const FindAgent = () => {
  const [id, setId] = useState('');
  return (
    <form
      class="find"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        if (id.trim() !== '') openAgent(id.trim());
      }}
    >
      <label for="find-agent">Agent id</label>
      <input id="find-agent" type="search" value={id} onInput={(e) => setId(e.currentTarget.value)} autoComplete="off" spellcheck={false} />
      <button type="submit">Open timeline</button>
    </form>
  );
};
