import { randomUUID } from 'node:crypto';
import type { LifecycleEvent, LifecycleEventBody, LifecycleEventType } from '../../src/events/lifecycleEvents.js';

let clock = Date.UTC(2026, 10, 20, 10, 0, 0);

/**
 * A valid lifecycle event with a fresh uuid id and an ISO `at` one millisecond after the previous
 * one; `metadata` merges extra keys (or overrides `at`).
 */
export const makeEvent = <T extends LifecycleEventType>(
  type: T,
  data: Extract<LifecycleEventBody, { type: T }>['data'],
  metadata: Record<string, unknown> = {},
): LifecycleEvent =>
  ({ id: randomUUID(), type, data, metadata: { at: new Date(clock++).toISOString(), ...metadata } }) as LifecycleEvent;

/** `count` heartbeats spread round-robin over `agents` agents (streams `agent-<prefix>0`, …). */
export const heartbeats = (count: number, options: { agents?: number; prefix?: string } = {}): LifecycleEvent[] => {
  const agents = options.agents ?? 10;
  const prefix = options.prefix ?? 'a';
  return Array.from({ length: count }, (_, i) => makeEvent('AgentHeartbeat', { agentId: `${prefix}${i % agents}` }));
};
