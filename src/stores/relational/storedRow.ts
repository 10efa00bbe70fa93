import type { StoredEvent } from '../eventStore.js';

const parse = (text: unknown, field: string, problems: string[]): unknown => {
  if (typeof text !== 'string') {
    problems.push(`${field} is not JSON text (${text === null ? 'NULL' : typeof text})`);
    return null;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const excerpt = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    problems.push(`${field} is not valid JSON (${(e as Error).message}): ${JSON.stringify(excerpt)}`);
    return null;
  }
};

/**
 * Builds a StoredEvent from a SQL row whose data and metadata are JSON text. A damaged field
 * becomes null and `corrupt` says why, so a reader can report the row instead of losing it.
 */
export const storedRow = (
  position: bigint,
  stream: string,
  revision: bigint,
  id: string,
  type: string,
  dataText: unknown,
  metadataText: unknown,
): StoredEvent => {
  const problems: string[] = [];
  const data = parse(dataText, 'data', problems);
  const metadata = parse(metadataText, 'metadata', problems);
  // Built literally so every row has one hidden class; `corrupt` only where it applies.
  const event: StoredEvent = {
    position,
    stream,
    revision,
    id,
    type,
    data,
    metadata,
    dataText: typeof dataText === 'string' ? dataText : undefined,
    metadataText: typeof metadataText === 'string' ? metadataText : undefined,
  };
  if (problems.length) event.corrupt = problems.join('; ');
  return event;
};
