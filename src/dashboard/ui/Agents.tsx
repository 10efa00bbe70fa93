import { memo } from 'preact/compat';
import { useMemo, useState } from 'preact/hooks';

import { openAgent } from '../story.js';
import type { AgentJson, SessionJson } from '../../projections/viewJson.js';
import { LivenessBadges } from './LivenessBadges.js';
import { Pager, usePaging } from './Pager.js';
import { Time } from './Time.js';
import { Breakable } from './Breakable.js';

export type StateFilter = 'running' | 'busy' | 'idle' | 'removed' | 'suspect' | 'quarantined' | 'any';
const STATES: Array<[StateFilter, string]> = [
  ['running', 'running (incl. busy)'],
  ['busy', 'busy'],
  ['idle', 'idle'],
  ['removed', 'removed'],
  ['suspect', 'suspect'],
  ['quarantined', 'quarantined'],
  ['any', 'any state'],
];
const ANY = '';
const NO_POOL = '\u0000none';

const matches = (a: AgentJson, state: StateFilter): boolean =>
  state === 'any'
    ? true
    : state === 'busy'
      ? a.busy
      : state === 'suspect'
        ? a.suspect !== null
        : state === 'quarantined'
          ? a.quarantine !== null
          : a.status === state;

const AgentRow = memo(({ agent, session }: { agent: AgentJson; session: SessionJson | undefined }) => (
  <tr data-agent-id={agent.agentId}>
    <th scope="row">
      <button type="button" class="link" onClick={() => openAgent(agent.agentId)} aria-label={`Timeline of agent ${agent.agentId}`}>
        {agent.agentId}
      </button>
      {agent.name !== null && <span class="sub">{agent.name}</span>}
    </th>
    <td class="wide-only">
      <Breakable text={agent.type} />
    </td>
    <td>
      <span class={`state ${agent.status}`}>{agent.status}</span> {agent.busy && <span class="state busy">busy</span>} <LivenessBadges suspect={agent.suspect} quarantine={agent.quarantine} />
    </td>
    <td>{session?.poolId ?? '—'}</td>
    <td>
      {agent.currentSessionId === null ? (
        '—'
      ) : (
        <>
          <code>{agent.currentSessionId}</code> <span class="sub wide-only">{session?.state}</span>
        </>
      )}
    </td>
    <td class="num wide-only">{agent.pid ?? '—'}</td>
    <td class="time wide-only">
      <Time iso={agent.status === 'running' ? agent.startedAt : agent.stoppedAt} />
    </td>
    <td class="time">
      <Time iso={agent.lastSeenAt} />
    </td>
  </tr>
));

export interface AgentsProps {
  agents: ReadonlyMap<string, AgentJson>;
  sessions: ReadonlyMap<string, SessionJson>;
  ids: readonly string[];
  poolIds: readonly string[];
  /** Changes whenever `agents` or `sessions` (patched in place) do. */
  version: number;
}

export const Agents = memo(({ agents, sessions, ids, poolIds, version }: AgentsProps) => {
  const [state, setState] = useState<StateFilter>('running');
  const [pool, setPool] = useState(ANY);
  const [type, setType] = useState(ANY);
  const [text, setText] = useState('');
  // An agent's type never changes (it is fixed at registration): only new agents add types.
  const types = useMemo(() => [...new Set(ids.map((id) => agents.get(id)!.type))].sort(), [ids]);
  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return ids.filter((id) => {
      const a = agents.get(id)!;
      if (!matches(a, state)) return false;
      if (type !== ANY && a.type !== type) return false;
      if (pool !== ANY) {
        const p = a.currentSessionId === null ? null : (sessions.get(a.currentSessionId)?.poolId ?? null);
        if (pool === NO_POOL ? p !== null : p !== pool) return false;
      }
      return needle === '' || id.toLowerCase().includes(needle) || (a.name ?? '').toLowerCase().includes(needle);
    });
  }, [ids, version, state, type, pool, text]);
  const paging = usePaging(shown.length, 50, `${state}|${pool}|${type}|${text}`);

  return (
    <section class="card agents" id="agents" aria-labelledby="agents-h" data-testid="agents">
      <h2 id="agents-h">
        Agents <span class="count">{shown.length.toLocaleString('en-US')}</span>
      </h2>
      <div class="filters" role="group" aria-label="Filter agents">
        <label>
          State
          <select value={state} onChange={(e) => setState(e.currentTarget.value as StateFilter)} name="state">
            {STATES.map(([v, l]) => (
              <option value={v}>{l}</option>
            ))}
          </select>
        </label>
        <label>
          Pool
          <select value={pool} onChange={(e) => setPool(e.currentTarget.value)} name="pool">
            <option value={ANY}>any pool</option>
            <option value={NO_POOL}>no pool</option>
            {poolIds.map((id) => (
              <option value={id}>{id}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={type} onChange={(e) => setType(e.currentTarget.value)} name="type">
            <option value={ANY}>any type</option>
            {types.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Id or name contains
          <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} name="q" autoComplete="off" />
        </label>
      </div>
      {shown.length === 0 ? (
        <p class="empty">No agent matches.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Agents matching the filters; choose an agent to open its timeline</caption>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col" class="wide-only">Type</th>
                <th scope="col">State</th>
                <th scope="col">Pool</th>
                <th scope="col">Session</th>
                <th scope="col" class="wide-only">PID</th>
                <th scope="col" class="wide-only">Started / stopped</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {shown.slice(paging.start, paging.end).map((id) => {
                const a = agents.get(id)!;
                return <AgentRow key={id} agent={a} session={a.currentSessionId === null ? undefined : sessions.get(a.currentSessionId)} />;
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Agents" paging={paging} />
    </section>
  );
});
