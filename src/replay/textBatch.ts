import { RollcallError, type RollcallErrorCode } from '../errors.js';
import type { LifecycleEvent, RecordedEvent } from '../events/lifecycleEvents.js';
import { DuplicateRecord, InvalidRecord, type ReplayItem } from './replayItem.js';
import { bigIntOf } from './streamCounter.js';

/**
 * A batch of decoded replay items as it crosses from the decoding thread to the folding one:
 * every valid event as the JSON text of what validation accepted (one JSON array for the batch),
 * positions, revisions and streams in typed arrays, and invalid entries as their error's fields.
 * A stream crosses by number: its name once, in the first batch that has it, so that every event of
 * a stream shares one name on the folding thread too. That thread pays one JSON.parse per event and
 * nothing else of the decoding; JSON.parse makes fresh, flat objects and strings, exactly as when
 * decoding in-thread.
 */
export interface TextBatch {
  /** 0 = event, 1 = invalid, 2 = redelivery (a DuplicateRecord of its event), per item. */
  kinds: Uint8Array;
  /** `[event, event, …]`: the valid events in item order. */
  json: string;
  /** Per event: its stream's number. */
  streams: Int32Array;
  /** The names of the streams first numbered in this batch, in their numbers' order. */
  newStreams: string[];
  /** Per item: position, then (events only) revision; -1 means "see `big`" (beyond 2^53). */
  numbers: Float64Array;
  big: string[];
  invalid: InvalidInfo[];
}

interface InvalidInfo {
  code: RollcallErrorCode;
  message: string;
  fields: { line?: number; path?: string; stream?: string; position?: string };
  id: string | null;
  type: string | null;
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** Builds one batch at a time in the decoding thread. */
export const createTextBatcher = () => {
  const streamNumbers = new Map<string, number>();
  let kinds: number[] = [];
  let texts: string[] = [];
  let streams: number[] = [];
  let newStreams: string[] = [];
  let numbers: number[] = [];
  let big: string[] = [];
  let invalid: InvalidInfo[] = [];
  /** `addEvent`: the streams named so far. */
  let counted = 0;
  const bigint = (v: bigint) => {
    if (v >= 0n && v <= MAX_EXACT) numbers.push(Number(v));
    else {
      numbers.push(-1);
      big.push(v.toString());
    }
  };
  return {
    /** Adds an item; `text`, when given, is the exact JSON of its event (else the event is encoded here). */
    add(item: ReplayItem, text: string | null = null): void {
      if (item instanceof InvalidRecord) {
        kinds.push(1);
        bigint(item.position);
        const { code, message, line, path, stream, position } = item.invalid;
        const fields = {
          ...(line !== undefined ? { line } : {}),
          ...(path !== undefined ? { path } : {}),
          ...(stream !== undefined ? { stream } : {}),
          ...(position !== undefined ? { position: position.toString() } : {}),
        };
        invalid.push({ code, message, fields, id: item.id, type: item.type });
        return;
      }
      const duplicate = item instanceof DuplicateRecord;
      const e = duplicate ? item.event : (item as RecordedEvent);
      kinds.push(duplicate ? 2 : 0);
      texts.push(text ?? JSON.stringify({ id: e.id, type: e.type, data: e.data, metadata: e.metadata }));
      let n = streamNumbers.get(e.stream);
      if (n === undefined) {
        n = streamNumbers.size;
        streamNumbers.set(e.stream, n);
        newStreams.push(e.stream);
      }
      streams.push(n);
      bigint(e.position);
      bigint(e.revision);
    },
    /**
     * Adds a valid event of a log numbered by a stream counter (an NDJSON file): `stream` is its
     * count's `index`, numbered in order of first appearance, so no name is looked up here;
     * `position` and `revision` are plain numbers. `text` is the exact JSON of the event.
     */
    addEvent(duplicate: boolean, text: string, stream: number, name: string, position: number, revision: number): void {
      kinds.push(duplicate ? 2 : 0);
      texts.push(text);
      if (stream === counted) {
        counted++;
        newStreams.push(name);
      }
      streams.push(stream);
      numbers.push(position, revision);
    },
    get size(): number {
      return kinds.length;
    },
    take(): TextBatch {
      const batch: TextBatch = {
        kinds: Uint8Array.from(kinds),
        json: `[${texts.join(',')}]`,
        streams: Int32Array.from(streams),
        newStreams,
        numbers: Float64Array.from(numbers),
        big,
        invalid,
      };
      kinds = [];
      texts = [];
      streams = [];
      newStreams = [];
      numbers = [];
      big = [];
      invalid = [];
      return batch;
    },
  };
};

/** The transferable buffers of a batch (moved, not copied, to the other thread). */
export const transferablesOf = (batch: TextBatch): ArrayBuffer[] => [
  batch.kinds.buffer as ArrayBuffer,
  batch.numbers.buffer as ArrayBuffer,
  batch.streams.buffer as ArrayBuffer,
];

/** Rebuilds batches' replay items in the folding thread, in order: give it every batch of one log, in turn. */
export const createTextBatchReader = () => {
  const names: string[] = [];
  return (batch: TextBatch): ReplayItem[] => readTextBatch(batch, names);
};

const readTextBatch = (batch: TextBatch, names: string[]): ReplayItem[] => {
  const events = JSON.parse(batch.json) as LifecycleEvent[];
  const { kinds, numbers, streams, big, invalid } = batch;
  for (const name of batch.newStreams) names.push(name);
  const items = new Array<ReplayItem>(kinds.length);
  let n = 0;
  let b = 0;
  let k = 0;
  let v = 0;
  const bigint = (): bigint => {
    const x = numbers[n++]!;
    return x >= 0 ? bigIntOf(x) : BigInt(big[b++]!);
  };
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i];
    if (kind !== 1) {
      const e = events[k]!;
      const stream = names[streams[k++]!]!;
      const position = bigint();
      const revision = bigint();
      // The same literal as `recorded()`: one hidden class for every event the fold sees.
      const event = { type: e.type, data: e.data, id: e.id, metadata: e.metadata, stream, revision, position } as RecordedEvent;
      items[i] = kind === 0 ? event : new DuplicateRecord(event);
    } else {
      const position = bigint();
      const info = invalid[v++]!;
      const { position: at, ...fields } = info.fields;
      const error = new RollcallError(info.code, info.message, { ...fields, ...(at !== undefined ? { position: BigInt(at) } : {}) });
      items[i] = new InvalidRecord(error, position, info.id, info.type);
    }
  }
  return items;
};
