import type { Rung, Snapshot, SnapshotStore } from '../eventStore.js';
import { DEFAULT_LADDER, rungsToKeep, type LadderPolicy } from '../snapshotLadder.js';
import type { SqlDb } from './sqlDb.js';

/**
 * A ladder of snapshots per projection name in the snapshots table (see snapshotLadder.ts): each
 * save adds a rung and prunes the ladder to its bounds. A rung is a row named
 * `<name>@ladder@<position, 20 digits>@<newest event time>`, so the table (and any older rollcall
 * reading it) needs no new column: the position and time are read from the name without loading
 * the payload. A row named `<name>` alone is the one snapshot an earlier version kept: loaded while
 * no rung exists, removed once one does.
 */
export const createRelationalSnapshots = (db: SqlDb, policy: LadderPolicy = DEFAULT_LADDER): SnapshotStore & Required<Pick<SnapshotStore, 'rungs' | 'loadAt'>> => {
  const { param: p, tables, now } = db;
  const t = tables.snapshots;
  const prefix = (name: string) => `${name}@ladder@`;
  const rungName = (name: string, position: bigint, at: string | null | undefined) => `${prefix(name)}${position.toString().padStart(20, '0')}@${at ?? ''}`;
  const parseRung = (rowName: string, name: string): Rung => {
    const [position, at] = rowName.slice(prefix(name).length).split('@') as [string, string | undefined];
    return { position: BigInt(position), at: at === undefined || at === '' ? null : at };
  };
  const loadSql = `SELECT name, version, position, payload FROM ${t} WHERE name = ${p(1)}`;
  // substr, not LIKE: a projection name may hold `_` or `%`. Names sort as positions (zero-padded).
  const listSql = `SELECT name FROM ${t} WHERE ${p(1)} = substr(name, 1, ${p(2)}) ORDER BY name`;
  const saveSql = `INSERT INTO ${t} (name, version, position, payload, saved_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${now})
     ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position,
       payload = excluded.payload, saved_at = excluded.saved_at`;
  const deleteSql = `DELETE FROM ${t} WHERE name = ${p(1)}`;

  const list = async (name: string) =>
    (await db.rows('list snapshots', 'rollcall_list_snapshots', listSql, [prefix(name), prefix(name).length])).map((r) => ({
      rowName: r[0] as string,
      ...parseRung(r[0] as string, name),
    }));
  const loadRow = async (rowName: string, name: string): Promise<Snapshot | null> => {
    const [r] = await db.rows('load snapshot', 'rollcall_load_snapshot', loadSql, [rowName]);
    if (!r) return null;
    // A position is any 64-bit value the projection reached: the driver hands it over exactly, never rounded.
    const at = rowName === name ? null : parseRung(rowName, name).at;
    return { name, version: Number(r[1]), position: BigInt(r[2] as bigint | string), payload: r[3] as string, ...(at !== null ? { at } : {}) };
  };

  return {
    async load(name) {
      const rungs = await list(name);
      const newest = rungs[rungs.length - 1];
      return newest === undefined ? loadRow(name, name) : loadRow(newest.rowName, name);
    },
    async save(snapshot) {
      const { name } = snapshot;
      await db.rows('save snapshot', 'rollcall_save_snapshot', saveSql, [rungName(name, snapshot.position, snapshot.at), snapshot.version, snapshot.position, snapshot.payload]);
      // Pruning is best kept, not atomic with the save: a failure leaves one rung too many, never one too few.
      const rungs = await list(name);
      // Sizes change slowly with the fleet: every rung is counted at the newest one's size (no payload is read to measure).
      const keep = rungsToKeep(rungs.map((r) => ({ position: r.position, bytes: snapshot.payload.length })), policy);
      for (const r of rungs) if (!keep.has(r.position)) await db.rows('prune snapshots', 'rollcall_delete_snapshot', deleteSql, [r.rowName]);
      await db.rows('prune snapshots', 'rollcall_delete_snapshot', deleteSql, [name]);
    },
    async rungs(name) {
      return (await list(name)).map(({ position, at }) => ({ position, at }));
    },
    async loadAt(name, position) {
      const rung = (await list(name)).find((r) => r.position === position);
      return rung === undefined ? null : loadRow(rung.rowName, name);
    },
  };
};
