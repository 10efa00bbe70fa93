import type { Changed } from '../projections/lifecycleChanged.js';
import type { AgentJson, PoolJson, ProjectionJson, SessionJson } from '../projections/lifecycleView.js';

// The contract of the live view (liveView.ts): its sections, what a read of one hands out.

/** The parts of the SPEC §3 view a reader can ask for alone, and the whole (`projection`). */
export interface ViewSections {
  pools: Record<string, PoolJson>;
  agents: Record<string, AgentJson>;
  sessions: Record<string, SessionJson>;
  running: { running: string[]; busy: string[] };
  /** SPEC §7: orchestrator hosts and quarantined agents. */
  liveness: { hosts: ProjectionJson['hosts']; quarantined: string[] };
  anomalies: ProjectionJson['anomalies'];
  projection: ProjectionJson;
}

export type ViewSectionName = keyof ViewSections;

/** One section as of a position, with its JSON text (built on first ask, then the same string). */
export interface ViewSection<T> {
  /** The position this section reflects (the live position when it was asked for). */
  position: string | null;
  value: T;
  json(): string;
}

export interface LiveView {
  /** Notes what one applied event changed: those entities are rebuilt when a section holding them is next asked for. */
  note(changed: Changed): void;
  /** One section as of now, built from its previous value and what was noted since; untouched sections cost nothing. */
  section<K extends ViewSectionName>(name: K): ViewSection<ViewSections[K]>;
  /** `lifecycleView(state)` as of now: `section('projection').value`. */
  view(): ProjectionJson;
  /**
   * The sessions in view of one agent as of now, sorted by id (the objects of `section('sessions')`),
   * from an index kept with that section: as many steps as the agent has sessions, not a scan of all.
   */
  sessionsOf(agentId: string): { position: string | null; sessions: SessionJson[] };
}

/** A section kept between reads: its value, the position it was last brought to, its text once asked for. */
export interface Kept<T> {
  value: T;
  at: bigint | null;
  text: string | undefined;
}
