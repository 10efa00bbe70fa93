import { uuidBytes, uuidV5 } from '../events/eventId.js';

/** The reconciler's UUID namespace: corrections hash under it, so they cannot collide with other name-based ids. */
export const CORRECTION_NAMESPACE = '5b7e2c1a-9f3d-4e8b-a6c2-0d41f7e3b985';

const namespaceBytes = uuidBytes(CORRECTION_NAMESPACE);

/**
 * The id of a correction: a function of the rule, the agent, the session/pid and the projection
 * fact it corrects — never of the clock or the observer — so every reconciler that decides the
 * same correction appends the same id, and the store's id-idempotency keeps one.
 */
export const correctionId = (parts: {
  rule: string;
  agentId: string;
  sessionId: string;
  pid: number | null;
  /** The projection fact being corrected, e.g. the session's terminatingSince or the agent's startedAt. */
  fact: string | null;
}): string =>
  uuidV5(JSON.stringify(['rollcall-correction/v1', parts.rule, parts.agentId, parts.sessionId, parts.pid, parts.fact]), namespaceBytes);
