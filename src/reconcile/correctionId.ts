import { createHash } from 'node:crypto';

/** The reconciler's UUID namespace: corrections hash under it, so they cannot collide with other name-based ids. */
export const CORRECTION_NAMESPACE = '5b7e2c1a-9f3d-4e8b-a6c2-0d41f7e3b985';

const namespaceBytes = Buffer.from(CORRECTION_NAMESPACE.replace(/-/g, ''), 'hex');

/** A version-5 UUID (RFC 9562: SHA-1 over namespace + name); the same name always gives the same id. */
export const uuidV5 = (name: string, namespace: Buffer = namespaceBytes): string => {
  const h = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
};

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
}): string => uuidV5(JSON.stringify(['rollcall-correction/v1', parts.rule, parts.agentId, parts.sessionId, parts.pid, parts.fact]));
