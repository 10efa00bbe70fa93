// An agent's story: its timeline from /v1/agents/{id}/audit, refreshed while live when it changes.
import { api } from './api.js';
import { cell } from './cell.js';
import { lastBatch } from './live.js';
import { openAgentId, travelPoint, writeHash } from './travel.js';
import type { AgentAuditJson } from '../projections/viewJson.js';

export type StoryState =
  | { kind: 'closed' }
  | { kind: 'loading'; agentId: string }
  | { kind: 'loaded'; agentId: string; audit: AgentAuditJson }
  | { kind: 'missing'; agentId: string }
  | { kind: 'error'; agentId: string; message: string };

export const story = cell<StoryState>({ kind: 'closed' });

let inFlight: AbortController | null = null;

const load = async (agentId: string, quiet: boolean) => {
  inFlight?.abort();
  const ctrl = (inFlight = new AbortController());
  if (!quiet) story.set({ kind: 'loading', agentId });
  try {
    const audit = await api.audit(agentId, ctrl.signal);
    if (ctrl.signal.aborted) return;
    story.set(audit === null ? { kind: 'missing', agentId } : { kind: 'loaded', agentId, audit });
  } catch (e) {
    if (ctrl.signal.aborted) return;
    story.set({ kind: 'error', agentId, message: e instanceof Error ? e.message : String(e) });
  }
};

export const openAgent = (agentId: string) => {
  openAgentId.set(agentId);
  writeHash();
  void load(agentId, false);
};

export const closeAgent = () => {
  inFlight?.abort();
  openAgentId.set(null);
  writeHash();
  story.set({ kind: 'closed' });
};

lastBatch.subscribe(() => {
  const id = openAgentId.get();
  if (id !== null && travelPoint.get() === null && lastBatch.get().agents.has(id)) void load(id, true);
});
