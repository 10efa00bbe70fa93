import { BACKWARDS, END, ErrorType, StreamNotFoundError, jsonEvent } from '@eventstore/db-client';
import { RollcallError } from '../../errors.js';
import type { Snapshot, SnapshotStore } from '../eventStore.js';
import type { EsdbConnection } from './connection.js';
import { commandErrorType } from './errors.js';

/** Snapshots live in streams outside the `agent-`/`pool-` prefixes, so no reader of the log sees them. */
const SNAPSHOT_STREAM_PREFIX = 'rollcall-snapshots-';
const SNAPSHOT_EVENT_TYPE = 'RollcallSnapshot';

/** One stream per projection name; the newest event is the snapshot, older ones are trimmed. */
export const createEsdbSnapshots = (conn: EsdbConnection): SnapshotStore => {
  const { client, physical, fail } = conn;
  const trimmed = new Set<string>();
  const streamOf = (name: string) => physical(SNAPSHOT_STREAM_PREFIX + name);

  return {
    async load(name): Promise<Snapshot | null> {
      const read = client.readStream(streamOf(name), { fromRevision: END, direction: BACKWARDS, maxCount: 1 });
      try {
        for await (const resolved of read) {
          const data = resolved.event?.data as Record<string, unknown> | undefined;
          // A damaged record is no snapshot: the caller replays in full.
          if (
            !data ||
            typeof data !== 'object' ||
            typeof data['name'] !== 'string' ||
            typeof data['version'] !== 'number' ||
            typeof data['position'] !== 'string' ||
            !/^\d+$/.test(data['position']) ||
            typeof data['payload'] !== 'string'
          ) {
            return null;
          }
          return { name: data['name'], version: data['version'], position: BigInt(data['position']), payload: data['payload'] };
        }
        return null;
      } catch (e) {
        if (e instanceof StreamNotFoundError) return null;
        throw fail(e, `load snapshot ${name}`);
      } finally {
        void read.cancel().catch(() => undefined);
      }
    },

    async save(snapshot) {
      const event = jsonEvent({
        type: SNAPSHOT_EVENT_TYPE,
        data: {
          name: snapshot.name,
          version: snapshot.version,
          position: snapshot.position.toString(),
          payload: snapshot.payload,
        },
      });
      const stream = streamOf(snapshot.name);
      try {
        await client.appendToStream(stream, event);
      } catch (e) {
        if (commandErrorType(e) === ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED) {
          throw new RollcallError('io', `snapshot ${snapshot.name} is larger than EventStoreDB's maximum append size`, {
            cause: e,
          });
        }
        throw fail(e, `save snapshot ${snapshot.name}`);
      }
      // Only the newest snapshot is ever read: let the server drop older ones (once per process;
      // best effort, as a user may lack the right to write stream metadata).
      if (!trimmed.has(stream)) {
        trimmed.add(stream);
        await client.setStreamMetadata(stream, { maxCount: 2 }).catch(() => undefined);
      }
    },
  };
};
