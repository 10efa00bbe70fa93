import { idRecord } from '../projections/lifecycleView.js';

/** A copy of an id-keyed dictionary (`for…in` into a fresh one measured about twice as fast as Object.assign at 100k keys). */
export const copyDictionary = <T>(from: Record<string, T>): Record<string, T> => {
  const to = idRecord<T>();
  for (const id in from) to[id] = from[id]!;
  return to;
};

/**
 * `"id":{…}` per entity object, serialized once: an entity a rebuild did not touch is the same
 * object, so a dictionary's text is a join of texts already made (a weak map: an entity dropped
 * from every section takes its text with it).
 */
const pieces = new WeakMap<object, string>();
export const dictionaryText = (dictionary: Record<string, object>): string => {
  const parts: string[] = [];
  for (const id in dictionary) {
    const entity = dictionary[id]!;
    let piece = pieces.get(entity);
    if (piece === undefined) pieces.set(entity, (piece = `${JSON.stringify(id)}:${JSON.stringify(entity)}`));
    parts.push(piece);
  }
  return `{${parts.join(',')}}`;
};
