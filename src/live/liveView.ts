import type { LifecycleState } from '../projections/lifecycleState.js';
import { agentStatus } from '../projections/agentStatus.js';
import {
  agentJson,
  anomaliesJson,
  hostsJson,
  idRecord,
  lifecycleView,
  occupiedPool,
  poolJson,
  sessionJson,
  type PoolJson,
  type ProjectionJson,
} from '../projections/lifecycleView.js';
import { copyDictionary, dictionaryText } from './entityText.js';
import { withMember } from './sortedIds.js';
import { createGrouping } from './viewIndexes.js';
import type { Kept, LiveView, ViewSection, ViewSectionName, ViewSections } from './viewSections.js';

export type { LiveView, ViewSection, ViewSectionName, ViewSections } from './viewSections.js';

/**
 * The SPEC §3 view of a state that the live follower mutates in place, kept per section (pools,
 * agents, sessions, running, anomalies) and brought up to date only when that section is read:
 * `GET /v1/pools` rebuilds the pools an event named and nothing else, however many sessions moved.
 * A rebuild starts from the section's previous value and rebuilds only the entities `changed`
 * named since; the rest are the previous objects (structural sharing), and their JSON text is
 * reused. At a fleet's size (1M events, 100k sessions) a full `lifecycleView` takes seconds.
 * A value once handed out is never modified (serve serializes it later, lazily): each rebuild
 * copies a dictionary before changing it.
 *
 * `changed` never omits an entity whose JSON changed (lifecycleChanged, property-tested), which is
 * what makes this exact; a property test checks every section against `lifecycleView` byte for byte.
 */
export const createLiveView = (state: LifecycleState): LiveView => {
  let started = false;
  // What changed since each section was last brought up to date.
  const dirty = {
    pools: new Set<string>(),
    occupancy: new Set<string>(),
    agents: new Set<string>(),
    running: new Set<string>(),
    sessions: new Set<string>(),
    liveness: new Set<string>(),
  };
  // The host each running agent's live session runs on; the pool each agent occupies (a pool's
  // activeAgentIds without a scan: a pool whose occupancy changed is named by `changed` itself,
  // with the agents that moved); the agent of each session in view (kept with the sessions section).
  const hostOf = createGrouping();
  const liveOnHost = { get: (host: string) => hostOf.count(host) };
  const poolOf = createGrouping();
  const agentOf = createGrouping();
  let pools!: Kept<ViewSections['pools']>;
  let agents!: Kept<ViewSections['agents']>;
  let sessions!: Kept<ViewSections['sessions']>;
  let running!: Kept<ViewSections['running']>;
  let liveness!: Kept<ViewSections['liveness']>;
  let anomalies!: Kept<ViewSections['anomalies']> & { count: number };
  let whole: Kept<ProjectionJson> | undefined;

  /** The first read: one full build, every section seeded from it. */
  const start = () => {
    started = true;
    for (const a of state.agents.values()) {
      const live = agentStatus(state.sessions, a).live;
      poolOf.put(a.agentId, occupiedPool(a, live));
      hostOf.put(a.agentId, live?.host ?? null);
    }
    const v = lifecycleView(state);
    for (const id in v.sessions) agentOf.put(id, v.sessions[id]!.agentId);
    const at = state.position;
    pools = { value: v.pools, at, text: undefined };
    agents = { value: v.agents, at, text: undefined };
    sessions = { value: v.sessions, at, text: undefined };
    running = { value: { running: v.running, busy: v.busy }, at, text: undefined };
    liveness = { value: { hosts: v.hosts, quarantined: v.quarantined }, at, text: undefined };
    anomalies = { value: v.anomalies, at, text: undefined, count: state.anomalies.count };
  };

  /** Brings a kept section to the current position: `rebuild` only when something in it changed. */
  const bring = <T>(kept: Kept<T>, changes: boolean, rebuild: (previous: T) => T): Kept<T> => {
    if (kept.at === state.position) return kept;
    kept.at = state.position;
    if (!changes) return kept;
    const value = rebuild(kept.value);
    if (value !== kept.value) {
      kept.value = value;
      kept.text = undefined;
    }
    return kept;
  };

  const bringSessions = () =>
    bring(sessions, dirty.sessions.size > 0, (previous) => {
      const next = copyDictionary(previous);
      for (const id of dirty.sessions) {
        const s = state.sessions.get(id);
        if (s === undefined) delete next[id];
        else next[id] = sessionJson(s);
        agentOf.put(id, s === undefined ? null : s.agentId);
      }
      dirty.sessions.clear();
      return next;
    });

  const bringAgents = () =>
    bring(agents, dirty.agents.size > 0, (previous) => {
      const next = copyDictionary(previous);
      for (const id of dirty.agents) {
        const a = state.agents.get(id);
        if (a === undefined) delete next[id];
        else next[id] = agentJson(state.sessions, a).json;
      }
      dirty.agents.clear();
      return next;
    });

  const bringRunning = () =>
    bring(running, dirty.running.size > 0, (previous) => {
      let { running: r, busy: b } = previous;
      for (const id of dirty.running) {
        const a = state.agents.get(id);
        const derived = a === undefined ? undefined : agentStatus(state.sessions, a);
        r = withMember(r, id, derived?.live !== undefined);
        b = withMember(b, id, derived?.busy === true);
      }
      dirty.running.clear();
      return r === previous.running && b === previous.busy ? previous : { running: r, busy: b };
    });

  // Hosts are few and a restart may name no entity (a host with nothing live): rebuilt whenever the position moved.
  const bringLiveness = () =>
    bring(liveness, true, (previous) => {
      let q = previous.quarantined;
      for (const id of dirty.liveness) {
        const a = state.agents.get(id);
        q = withMember(q, id, a !== undefined && a.quarantine !== null);
        hostOf.put(id, a === undefined ? null : (agentStatus(state.sessions, a).live?.host ?? null));
      }
      dirty.liveness.clear();
      return { hosts: hostsJson(state, liveOnHost), quarantined: q };
    });

  const bringPools = () => {
    for (const id of dirty.occupancy) {
      const a = state.agents.get(id);
      poolOf.put(id, a === undefined ? null : occupiedPool(a, agentStatus(state.sessions, a).live));
    }
    dirty.occupancy.clear();
    return bring(pools, dirty.pools.size > 0, (previous) => {
      // Rebuilt in the state's order (pools are few): a pool deleted and created again moves to the end there.
      const next = idRecord<PoolJson>();
      for (const p of state.pools.values()) {
        const kept = dirty.pools.has(p.poolId) ? undefined : previous[p.poolId];
        next[p.poolId] = kept ?? poolJson(state, p, poolOf.sortedMembers(p.poolId));
      }
      dirty.pools.clear();
      return next;
    });
  };

  const bringAnomalies = () => {
    const count = state.anomalies.count;
    const kept = bring(anomalies, count !== anomalies.count, () => anomaliesJson(state));
    anomalies.count = count;
    return kept;
  };

  const inner = (text: string) => text.slice(1, -1);

  const textOf = {
    pools: () => (pools.text ??= dictionaryText(pools.value)),
    agents: () => (agents.text ??= dictionaryText(agents.value)),
    sessions: () => (sessions.text ??= dictionaryText(sessions.value)),
    running: () => (running.text ??= JSON.stringify(running.value)),
    liveness: () => (liveness.text ??= JSON.stringify(liveness.value)),
    anomalies: () => (anomalies.text ??= JSON.stringify(anomalies.value)),
  };

  const bringWhole = (): Kept<ProjectionJson> => {
    if (whole !== undefined && whole.at === state.position) return whole;
    const [p, a, s, r, l, x] = [bringPools(), bringAgents(), bringSessions(), bringRunning(), bringLiveness(), bringAnomalies()];
    const value: ProjectionJson = {
      position: state.position === null ? null : state.position.toString(),
      pools: p.value,
      agents: a.value,
      sessions: s.value,
      running: r.value.running,
      busy: r.value.busy,
      hosts: l.value.hosts,
      quarantined: l.value.quarantined,
      anomalies: x.value,
    };
    return (whole = { value, at: state.position, text: undefined });
  };

  const section = <K extends ViewSectionName>(name: K): ViewSection<ViewSections[K]> => {
    if (!started) start();
    const position = state.position === null ? null : state.position.toString();
    let kept: Kept<unknown>;
    let json: () => string;
    switch (name) {
      case 'pools':
        kept = bringPools();
        json = textOf.pools;
        break;
      case 'agents':
        kept = bringAgents();
        json = textOf.agents;
        break;
      case 'sessions':
        kept = bringSessions();
        json = textOf.sessions;
        break;
      case 'running':
        kept = bringRunning();
        json = textOf.running;
        break;
      case 'liveness':
        kept = bringLiveness();
        json = textOf.liveness;
        break;
      case 'anomalies':
        kept = bringAnomalies();
        json = textOf.anomalies;
        break;
      default: {
        const w = bringWhole();
        kept = w;
        // The whole view's text is its sections' texts, each made once per change of that section.
        json = () =>
          (w.text ??= `{"position":${JSON.stringify(w.value.position)},"pools":${textOf.pools()},"agents":${textOf.agents()},"sessions":${textOf.sessions()},${inner(textOf.running())},${inner(textOf.liveness())},"anomalies":${textOf.anomalies()}}`);
      }
    }
    // A later read may have moved the section on before this text is asked for: then it is made from the value itself.
    const value = kept.value as ViewSections[K];
    const sections = name === 'projection' ? [pools.value, agents.value, sessions.value, running.value, liveness.value, anomalies.value] : null;
    const unmoved = () =>
      sections === null
        ? kept.value === value
        : pools.value === sections[0] &&
          agents.value === sections[1] &&
          sessions.value === sections[2] &&
          running.value === sections[3] &&
          liveness.value === sections[4] &&
          anomalies.value === sections[5];
    let text: string | undefined;
    return {
      position,
      value,
      json: () => (text ??= unmoved() ? json() : JSON.stringify(value)),
    };
  };

  return {
    note(changed) {
      if (!started) return;
      for (const id of changed.pools) dirty.pools.add(id);
      for (const id of changed.agents) {
        dirty.agents.add(id);
        dirty.running.add(id);
        dirty.occupancy.add(id);
        dirty.liveness.add(id);
      }
      for (const id of changed.sessions) dirty.sessions.add(id);
    },
    section,
    view: () => section('projection').value,
    sessionsOf(agentId) {
      if (!started) start();
      const { value } = bringSessions();
      return { position: state.position === null ? null : state.position.toString(), sessions: agentOf.sortedMembers(agentId).map((id) => value[id]!) };
    },
  };
};
