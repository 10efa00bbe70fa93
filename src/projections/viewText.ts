import type { LifecycleState, SessionRecord } from './lifecycleState.js';
import { lifecycleView, viewBesideSessions } from './lifecycleView.js';

/*
 * The view's JSON text (exactly `JSON.stringify(lifecycleView(state))`) made without the view
 * object, for time travel (travelWorker.ts): the sessions, a hundred thousand records at fleet
 * scale and most of the text, are written each as its own `"id":{…}` and kept, so the next text
 * reuses every session that did not change. A client stepping through history (each answer a few
 * hundred events after the last) then pays for the sessions those events touched, not for all of
 * them; the first text pays as `JSON.stringify` does. The other sections are small and made
 * afresh each time.
 */

/** Every field of a session record: a field the record gains and this list lacks is a compile error. */
export const SESSION_FIELDS = [
  'sessionId',
  'agentId',
  'poolId',
  'state',
  'pid',
  'host',
  'startedAt',
  'endedAt',
  'terminatingSince',
  'terminationReason',
  'epoch',
  'leaseMs',
  'leaseExpiresAt',
] as const satisfies ReadonlyArray<keyof SessionRecord>;
const everyField: Exclude<keyof SessionRecord, (typeof SESSION_FIELDS)[number]> extends never ? true : never = true;
void everyField;

interface Entry {
  /** The values the text was made of (a copy: the fold changes records in place). */
  values: SessionRecord;
  /** `"id":{…}` as UTF-8, as the view's sessions object holds it. */
  bytes: Buffer;
  /** Its id as an array index (listed first, see `indexKey`), else null. */
  index: number | null;
  /** The last text that used it. */
  used: number;
}

/** Compares every field of SESSION_FIELDS (written out: a loop over them costs as much as the rest of a reused session). */
const sameValues = (a: SessionRecord, b: SessionRecord): boolean =>
  a.sessionId === b.sessionId &&
  a.agentId === b.agentId &&
  a.poolId === b.poolId &&
  a.state === b.state &&
  a.pid === b.pid &&
  a.host === b.host &&
  a.startedAt === b.startedAt &&
  a.endedAt === b.endedAt &&
  a.terminatingSince === b.terminatingSince &&
  a.terminationReason === b.terminationReason &&
  a.epoch === b.epoch &&
  a.leaseMs === b.leaseMs &&
  a.leaseExpiresAt === b.leaseExpiresAt;

/**
 * An array index as a property key (a canonical decimal below 2³² − 1): an object lists those
 * first, in numeric order, whatever the order they were set in, and so does `JSON.stringify`.
 */
export const indexKey = (key: string): number | null => {
  const c = key.charCodeAt(0);
  if (!(c >= 48 && c <= 57) || key.length > 10 || !/^(?:0|[1-9]\d*)$/.test(key)) return null;
  const n = Number(key);
  return n < 2 ** 32 - 1 ? n : null;
};

/** Makes the view's JSON of lifecycle states, reusing the text of every session unchanged since the last one. */
export interface ViewTextCache {
  /**
   * `JSON.stringify(lifecycleView(state))` as UTF-8, byte for byte, in a buffer of its own (never
   * a slice of a shared pool: it may be transferred to another thread).
   */
  bytes(state: LifecycleState): Uint8Array;
  /** Sessions whose text the last call reused, and those it wrote. */
  readonly last: { reused: number; written: number };
  /** Session texts kept. */
  size(): number;
  /** Drops every kept text. */
  clear(): void;
}

const COMMA = 44;

export const createViewTextCache = (): ViewTextCache => {
  let entries = new Map<string, Entry>();
  let call = 0;
  const last = { reused: 0, written: 0 };

  /** The session entries of the view in its order, or null when the state keys a session by another id than its own. */
  const sessionEntries = (sessions: ReadonlyMap<string, SessionRecord>): Entry[] | null => {
    call++;
    last.reused = 0;
    last.written = 0;
    const listed: Entry[] = [];
    let indexed: Entry[] | null = null;
    for (const [key, s] of sessions) {
      // The view keys a session by its own id; a state keyed otherwise is left to the view itself.
      if (key !== s.sessionId) return null;
      let entry = entries.get(key);
      if (entry !== undefined && sameValues(entry.values, s)) last.reused++;
      else {
        entry = { values: { ...s }, bytes: Buffer.from(`${JSON.stringify(key)}:${JSON.stringify(s)}`), index: indexKey(key), used: call };
        entries.set(key, entry);
        last.written++;
      }
      entry.used = call;
      if (entry.index === null) listed.push(entry);
      else (indexed ??= []).push(entry);
    }
    // Texts of sessions no longer in the state go, so that what is kept is one state's worth.
    if (entries.size > sessions.size) for (const [key, e] of entries) if (e.used !== call) entries.delete(key);
    return indexed === null ? listed : [...indexed.sort((a, b) => a.index! - b.index!), ...listed];
  };

  return {
    bytes(state) {
      const sessions = sessionEntries(state.sessions);
      if (sessions === null) return new TextEncoder().encode(JSON.stringify(lifecycleView(state)));
      const v = viewBesideSessions(state);
      const head = Buffer.from(`{"position":${JSON.stringify(v.position)},"pools":${JSON.stringify(v.pools)},"agents":${JSON.stringify(v.agents)},"sessions":{`);
      const tail = Buffer.from(
        `},"running":${JSON.stringify(v.running)},"busy":${JSON.stringify(v.busy)},"hosts":${JSON.stringify(v.hosts)},` +
          `"quarantined":${JSON.stringify(v.quarantined)},"anomalies":${JSON.stringify(v.anomalies)}}`,
      );
      let size = head.length + tail.length + Math.max(0, sessions.length - 1);
      for (const e of sessions) size += e.bytes.length;
      const out = new Uint8Array(size);
      out.set(head, 0);
      let at = head.length;
      for (let i = 0; i < sessions.length; i++) {
        if (i > 0) out[at++] = COMMA;
        const b = sessions[i]!.bytes;
        out.set(b, at);
        at += b.length;
      }
      out.set(tail, at);
      return out;
    },
    last,
    size: () => entries.size,
    clear() {
      entries = new Map();
    },
  };
};
