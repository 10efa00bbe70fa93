/** A raw event as stored: shape not yet trusted. */
export interface RawEvent {
  id?: unknown;
  type: string;
  data: unknown;
  metadata: unknown;
}

/** Upgrades one older stored shape to the current one; never rewrites the store. */
export type Upcaster = (raw: RawEvent) => RawEvent;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Old shapes, keyed by the type they were stored under. Each returns the current shape; the
 * result is validated like any other event, so an upcaster cannot smuggle in bad data.
 */
export const upcasters: Readonly<Record<string, Upcaster>> = {
  // v0 producers wrote the end of a session as SessionTerminated with `terminationReason`.
  SessionTerminated: (raw) => {
    if (!isRecord(raw.data)) return raw;
    const { terminationReason, ...rest } = raw.data;
    return { ...raw, type: 'SessionEnded', data: { ...rest, reason: terminationReason } };
  },
  // v0 producers wrote the type key (`worker:ephemeral`) instead of role and variant.
  AgentRegistered: (raw) => {
    if (!isRecord(raw.data) || typeof raw.data['type'] !== 'string' || 'role' in raw.data) return raw;
    const { type, ...rest } = raw.data;
    const [role, variant] = (type as string).split(':', 2);
    return { ...raw, data: { ...rest, role, ...(variant ? { variant } : {}) } };
  },
};

/** Applies upcasters until the shape is current (an upcaster may hand over to another). */
export const upcast = (raw: RawEvent, table: Readonly<Record<string, Upcaster>> = upcasters): RawEvent => {
  let current = raw;
  for (let hops = 0; hops < 8; hops++) {
    // Own entries only: a type such as `toString` or `__proto__` must not find Object.prototype's.
    const step = Object.hasOwn(table, current.type) ? table[current.type] : undefined;
    if (step === undefined) return current;
    const next = step(current);
    if (next === current) return current;
    current = next;
  }
  return current;
};
