import { memo } from 'preact/compat';
import { useMemo } from 'preact/hooks';
import { openAgent } from '../story.js';
import type { AgentJson, HostJson, SessionJson } from '../../projections/viewJson.js';
import { Time } from './Time.js';

const live = (s: SessionJson) => s.state === 'starting' || s.state === 'running' || s.state === 'terminating';

export interface LivenessProps {
  hosts: ReadonlyMap<string, HostJson>;
  agents: ReadonlyMap<string, AgentJson>;
  sessions: ReadonlyMap<string, SessionJson>;
  /** Changes whenever `agents` or `sessions` (patched in place) do. */
  version: number;
}

/** Agents flagged one way (suspect or quarantined), each with since when and why, one click from its timeline. */
const Flagged = ({ title, what, agents, flag }: { title: string; what: string; agents: AgentJson[]; flag: (a: AgentJson) => { since: string; reason: string } }) => (
  <>
    <h3>
      {title} <span class="count">{agents.length}</span>
    </h3>
    {agents.length === 0 ? (
      <p class="empty">No agent is {title.toLowerCase()}.</p>
    ) : (
      <ul class="flagged" data-testid={what}>
        {agents.map((a) => (
          <li key={a.agentId} data-agent-id={a.agentId}>
            <button type="button" class="link" onClick={() => openAgent(a.agentId)} aria-label={`Timeline of agent ${a.agentId}`}>
              {a.agentId}
            </button>{' '}
            <span class="sub">
              since <Time iso={flag(a).since} />: {flag(a).reason}
            </span>
          </li>
        ))}
      </ul>
    )}
  </>
);

/**
 * SPEC §7: each orchestrator host's epoch (its live sessions counted from the page's sessions, so
 * the count follows every change), the suspect agents (a warning, still holding their slot) and the
 * quarantined ones (crash loops).
 */
export const Liveness = memo(({ hosts, agents, sessions, version }: LivenessProps) => {
  const { liveOnHost, suspect, quarantined } = useMemo(() => {
    const liveOnHost = new Map<string, number>();
    for (const s of sessions.values()) if (s.host !== null && live(s)) liveOnHost.set(s.host, (liveOnHost.get(s.host) ?? 0) + 1);
    const all = [...agents.values()].sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
    return { liveOnHost, suspect: all.filter((a) => a.suspect !== null), quarantined: all.filter((a) => a.quarantine !== null) };
  }, [hosts, version]);
  const rows = [...hosts.values()].sort((a, b) => (a.host < b.host ? -1 : 1));
  return (
    <section class="card liveness" aria-labelledby="liveness-h" data-testid="liveness">
      <h2 id="liveness-h">Liveness</h2>
      <h3 id="hosts-h">
        Hosts <span class="count">{rows.length}</span>
      </h3>
      {rows.length === 0 ? (
        <p class="empty">No orchestrator announced an epoch (OrchestratorStarted).</p>
      ) : (
        <div class="table-wrap">
          <table class="compact" aria-labelledby="hosts-h" data-testid="hosts">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col" class="num">Epoch</th>
                <th scope="col">Since</th>
                <th scope="col" class="num">Live sessions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((h) => (
                <tr key={h.host} data-host={h.host}>
                  <th scope="row">
                    <code>{h.host}</code>
                  </th>
                  <td class="num" data-col="epoch">
                    {h.epoch}
                  </td>
                  <td class="time">
                    <Time iso={h.startedAt} />
                  </td>
                  <td class="num" data-col="live">
                    {liveOnHost.get(h.host) ?? 0}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Flagged title="Suspect" what="suspects" agents={suspect} flag={(a) => a.suspect!} />
      <Flagged title="Quarantined" what="quarantined" agents={quarantined} flag={(a) => a.quarantine!} />
    </section>
  );
});
