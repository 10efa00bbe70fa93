import { z } from 'zod';
import { EventEnvelope, LifecycleEventBody, type LifecycleEventType } from './lifecycleEvents.js';

// One line per event for producers in other languages; a Record so a new event type cannot ship
// without one (the compiler asks for it).
const descriptions: Record<LifecycleEventType, string> = {
  PoolCreated: 'A pool exists. agentTypes empty or absent means every type; enabled defaults to true.',
  PoolUpdated: "A pool's configuration changed; only the fields given change.",
  PoolDeleted: 'The pool is gone; its sessions are not touched.',
  AgentRegistered: 'An agent exists. Its type key is role:variant, or role when there is no variant.',
  AgentRemoved: 'The agent is deregistered for good; its open sessions end with reason agent_removed.',
  AgentConnected: 'A control connection of the agent is up.',
  AgentDisconnected: 'That connection is down. It ends no session: the reconciler decides whether the agent is gone.',
  AgentHeartbeat: 'The agent was seen.',
  SessionStarting: 'A slot is reserved for a session before its process starts.',
  AgentSpawned: "The session's process is running (on host, when given).",
  SessionStartFailed: 'The session never started.',
  SessionSuspended: 'The process is gone; the session is kept so it can resume.',
  SessionResumed: 'A suspended session runs again.',
  SessionTerminationRequested: 'Someone asked the session to stop.',
  SessionEnded: 'The session is over.',
  SessionNotFound: 'The runtime says this session does not exist (e.g. "No conversation found" on resume); it ends.',
  SessionReset: 'The conversation was reset: the session ends and generation is the new, higher generation.',
  RunStarted: 'A run (turn) of the given generation is in flight.',
  RunFinished: 'That run is over.',
  AgentStopped: "The agent's process stopped; with resumable its sessions are suspended, else they end.",
  AgentCrashed: "The agent's process died unexpectedly (only the session with that pid, when a pid is given).",
  OrchestratorStarted:
    'The orchestrator on host started anew with a higher epoch: its live sessions not listed in adopted end with reason orchestrator_restarted.',
  SessionLeaseRenewed: "The session's lease runs again for leaseMs (its own length when absent) from this event's at.",
  AgentSuspected: 'A reconciler saw no sign of life for a while: a warning, the agent keeps its slot.',
  AgentReleased: "An operator lifts the agent's crash-loop quarantine; the count of abnormal ends restarts.",
};

/** The JSON Schema (draft 2020-12) of one event envelope: a plain JSON value, safe to serialize or mutate. */
export type EventJsonSchema = Record<string, unknown>;

/**
 * JSON Schema of the event envelope and catalog (SPEC §1), generated from the zod schemas the
 * code validates with, for producers in other languages. One `$defs` entry per event type, and
 * `EventMetadata`; the root is `oneOf` them. It describes the current shapes: older stored shapes
 * that the reader upcasts (e.g. `SessionTerminated`) are not producers' to write.
 */
export const eventJsonSchema = (): EventJsonSchema => {
  // A registry of our own: `.meta()` would write to zod's global registry on every call.
  const registry = z.registry<{ id: string; description?: string; title?: string }>();
  const metadata = EventEnvelope.shape.metadata;
  registry.add(metadata, {
    id: 'EventMetadata',
    description: 'at: when the fact happened (ISO-8601 with a zone); other keys pass through.',
  });
  const events = LifecycleEventBody.options.map((body) => {
    const type = body.shape.type.value;
    // Strict like decodeEvent's envelope: an unknown top-level field is refused too.
    const full = body.extend({ id: EventEnvelope.shape.id, metadata }).strict();
    registry.add(full, { id: type, description: descriptions[type] });
    return full;
  });
  const [first, ...rest] = events;
  const catalog = z.discriminatedUnion('type', [first!, ...rest]);
  const { $schema, ...generated } = z.toJSONSchema(catalog, { io: 'input', metadata: registry, unrepresentable: 'throw' });
  return {
    $schema,
    title: 'rollcall lifecycle event',
    description:
      'One event as a producer writes it (one JSON object per NDJSON line). id is a UUID (assigned on append when absent); type selects the data schema; data is strict (unknown keys are rejected).',
    ...generated,
  };
};
