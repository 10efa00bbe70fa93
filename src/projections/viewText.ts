import type { LifecycleState, SessionRecord } from './lifecycleState.js';
import { idRecord, sessionJson, viewWithSessions } from './lifecycleView.js';
import type { SessionJson } from './viewJson.js';

/*
 * `JSON.stringify(lifecycleView(state), null, 2)` as a few large pieces, byte for byte, for
 * `replay --json`. The sessions section (most of the view: ~120k sessions after 1M events) is not
 * built as one dictionary: its sessions are turned into view objects and encoded a few hundred at a
 * time, so no dictionary of 100k+ keys is filled and walked and each object dies young instead of
 * being kept (and copied by the collector) until the whole view is encoded. The encoder is still
 * JSON.stringify on the objects sessionJson makes: nothing here spells a field or an escape.
 */

export interface ViewTextOptions {
  /** Sessions encoded per JSON.stringify call (default 256). */
  chunk?: number;
}

/**
 * Whether `key` is an array index: an object lists such keys first, in numeric order, whatever
 * order they were set in (and JSON.stringify prints them so).
 */
export const isArrayIndex = (key: string): boolean => {
  const c = key.charCodeAt(0);
  if (c < 48 || c > 57) return false;
  const n = Number(key);
  return Number.isInteger(n) && n < 4294967295 && String(n) === key;
};

/** The sessions in the order a dictionary keyed by their ids lists them: array-index ids first, ascending. */
const dictionaryOrder = (sessions: ReadonlyMap<string, SessionRecord>): Iterable<SessionRecord> => {
  let indexed: SessionRecord[] | null = null;
  for (const id of sessions.keys()) if (isArrayIndex(id)) (indexed ??= []).push(sessions.get(id)!);
  if (indexed === null) return sessions.values();
  indexed.sort((a, b) => Number(a.sessionId) - Number(b.sessionId));
  const rest = [...sessions.values()].filter((s) => !isArrayIndex(s.sessionId));
  return [...indexed, ...rest];
};

// A chunk is encoded inside a one-key wrapper, so its entries get the indentation of the view's
// sections (two levels deep); the wrapper's own lines are cut off.
const HEAD = '{\n  "s": {\n'.length;
const TAIL = '\n  }\n}'.length;
const SESSIONS_EMPTY = '\n  "sessions": {}';

/**
 * `JSON.stringify(lifecycleView(state), null, 2)` (no final newline) as pieces whose concatenation
 * is exactly that text: the part around the sessions, then a piece per chunk of sessions, each
 * meant to be written as it comes, so that no piece outlives the next.
 */
export function* lifecycleViewText(state: LifecycleState, options: ViewTextOptions = {}): Generator<string> {
  const { chunk: chunkSize = 256 } = options;
  const around = JSON.stringify(viewWithSessions(state, idRecord<SessionJson>()), null, 2);
  if (state.sessions.size === 0) {
    yield around;
    return;
  }
  // The first line at this indentation naming "sessions" is the view's own key: a string inside
  // the view cannot hold a raw newline.
  const close = around.indexOf(SESSIONS_EMPTY) + SESSIONS_EMPTY.length - 1;
  yield `${around.slice(0, close)}\n`;
  let chunk = idRecord<SessionJson>();
  let inChunk = 0;
  let separator = '';
  for (const s of dictionaryOrder(state.sessions)) {
    chunk[s.sessionId] = sessionJson(s);
    if (++inChunk === chunkSize) {
      const text = JSON.stringify({ s: chunk }, null, 2);
      yield `${separator}${text.slice(HEAD, text.length - TAIL)}`;
      separator = ',\n';
      chunk = idRecord<SessionJson>();
      inChunk = 0;
    }
  }
  if (inChunk > 0) {
    const text = JSON.stringify({ s: chunk }, null, 2);
    yield `${separator}${text.slice(HEAD, text.length - TAIL)}`;
  }
  yield `\n  ${around.slice(close)}`;
}
