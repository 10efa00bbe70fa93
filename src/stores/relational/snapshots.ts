import type { Snapshot, SnapshotStore } from '../eventStore.js';
import type { SqlDb } from './sqlDb.js';

/** One snapshot per projection name in the snapshots table, the newest replacing the last. */
export const createRelationalSnapshots = (db: SqlDb): SnapshotStore => {
  const { param: p, tables, now } = db;
  const loadSql = `SELECT name, version, position, payload FROM ${tables.snapshots} WHERE name = ${p(1)}`;
  const saveSql = `INSERT INTO ${tables.snapshots} (name, version, position, payload, saved_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${now})
     ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position,
       payload = excluded.payload, saved_at = excluded.saved_at`;
  return {
    async load(name): Promise<Snapshot | null> {
      const [r] = await db.rows('load snapshot', 'rollcall_load_snapshot', loadSql, [name]);
      // A position is any 64-bit value the projection reached: the driver hands it over exactly, never rounded.
      return r ? { name: r[0] as string, version: Number(r[1]), position: BigInt(r[2] as bigint | string), payload: r[3] as string } : null;
    },
    async save(snapshot) {
      await db.rows('save snapshot', 'rollcall_save_snapshot', saveSql, [snapshot.name, snapshot.version, snapshot.position, snapshot.payload]);
    },
  };
};
