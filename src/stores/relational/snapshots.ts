import { randomBytes } from 'node:crypto';
import type { Rung, Snapshot, SnapshotStore } from '../eventStore.js';
import { DEFAULT_LADDER, rungsToKeep, type LadderPolicy } from '../snapshotLadder.js';
import type { SqlDb } from './sqlDb.js';

export interface RelationalSnapshotOptions {
  policy?: LadderPolicy;
  /**
   * Save each payload as parts of at most this many characters, one short transaction each, then
   * publish the rung in one tiny transaction (sqlite: a 29 MB insert held the one write lock, and
   * every commit waited, for its whole length). Absent: one row holds the payload (PostgreSQL).
   */
  partChars?: number;
  /**
   * Awaited between two part writes (and two part deletes): a pause long enough for a writer that
   * polls the lock (the commit thread) to take it, instead of finding it taken again at once.
   */
  betweenParts?: () => Promise<void>;
}

/** A rung row whose payload is in parts: `@parts <count> <key>` (not JSON: a rollcall that predates parts finds it unusable and folds without it). */
const MANIFEST = '@parts ';
/** Parts that no rung names are removed once this old: a save still staging its parts is younger. */
const ORPHAN_MS = 10 * 60_000;

/**
 * A ladder of snapshots per projection name in the snapshots table (see snapshotLadder.ts): each
 * save adds a rung and prunes the ladder to its bounds. A rung is a row named
 * `<name>@ladder@<position, 20 digits>@<newest event time>`, so the table (and any older rollcall
 * reading it) needs no new column: the position and time are read from the name without loading
 * the payload. A row named `<name>` alone is the one snapshot an earlier version kept: loaded while
 * no rung exists, removed once one does.
 *
 * With `partChars`, a rung's payload is kept in rows `<name>@part@<position>@<token>@<n>` (the token
 * is the rung's saved_at, so a rung names its parts without its payload being read), written before
 * the rung row that publishes them; a reader never sees a rung whose parts are not all there. A
 * store written before parts existed holds whole payloads in its rung rows, which load as before.
 */
export const createRelationalSnapshots = (db: SqlDb, options: RelationalSnapshotOptions = {}): SnapshotStore & Required<Pick<SnapshotStore, 'rungs' | 'loadAt'>> => {
  const policy = options.policy ?? DEFAULT_LADDER;
  const { param: p, tables, now } = db;
  const t = tables.snapshots;
  const prefix = (name: string) => `${name}@ladder@`;
  const partPrefix = (name: string) => `${name}@part@`;
  const pad = (position: bigint) => position.toString().padStart(20, '0');
  const rungName = (name: string, position: bigint, at: string | null | undefined) => `${prefix(name)}${pad(position)}@${at ?? ''}`;
  const partKey = (name: string, position: bigint, token: string) => `${partPrefix(name)}${pad(position)}@${token}@`;
  const parseRung = (rowName: string, name: string): Rung => {
    const [position, at] = rowName.slice(prefix(name).length).split('@') as [string, string | undefined];
    return { position: BigInt(position), at: at === undefined || at === '' ? null : at };
  };
  const loadSql = `SELECT name, version, position, payload FROM ${t} WHERE name = ${p(1)}`;
  // substr, not LIKE: a projection name may hold `_` or `%`. Names sort as positions (zero-padded).
  const listSql = `SELECT name, saved_at FROM ${t} WHERE ${p(1)} = substr(name, 1, ${p(2)}) ORDER BY name`;
  // Names only: saved_at is stored after the payload, so reading it from a part row (256 Ki
  // characters in overflow pages) would read the whole part.
  const namesSql = `SELECT name FROM ${t} WHERE ${p(1)} = substr(name, 1, ${p(2)}) ORDER BY name`;
  const partsSql = `SELECT payload FROM ${t} WHERE ${p(1)} = substr(name, 1, ${p(2)}) ORDER BY name`;
  const upsert = (savedAt: string) => `INSERT INTO ${t} (name, version, position, payload, saved_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${savedAt})
     ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position,
       payload = excluded.payload, saved_at = excluded.saved_at`;
  const saveSql = upsert(now);
  const saveAtSql = upsert(p(5));
  const deleteSql = `DELETE FROM ${t} WHERE name = ${p(1)}`;

  const listRows = async (rowPrefix: string) => db.rows('list snapshots', 'rollcall_list_snapshots', listSql, [rowPrefix, rowPrefix.length]);
  const list = async (name: string) =>
    (await listRows(prefix(name))).map((r) => ({
      rowName: r[0] as string,
      savedAt: String(r[1]),
      ...parseRung(r[0] as string, name),
    }));
  const loadRow = async (rowName: string, name: string): Promise<Snapshot | null> => {
    const [r] = await db.rows('load snapshot', 'rollcall_load_snapshot', loadSql, [rowName]);
    if (!r) return null;
    let payload = r[3] as string;
    if (payload.startsWith(MANIFEST)) {
      const [count, key] = [Number(payload.slice(MANIFEST.length, payload.indexOf(' ', MANIFEST.length))), payload.slice(payload.indexOf(' ', MANIFEST.length) + 1)];
      const parts = await db.rows('load snapshot', 'rollcall_load_snapshot_parts', partsSql, [key, key.length]);
      // Pruned between the two reads: as if the rung were gone.
      if (parts.length !== count) return null;
      payload = parts.map((part) => part[0] as string).join('');
    }
    // A position is any 64-bit value the projection reached: the driver hands it over exactly, never rounded.
    const at = rowName === name ? null : parseRung(rowName, name).at;
    return { name, version: Number(r[1]), position: BigInt(r[2] as bigint | string), payload, ...(at !== null ? { at } : {}) };
  };
  const remove = (rowName: string) => db.rows('prune snapshots', 'rollcall_delete_snapshot', deleteSql, [rowName]);

  /** Writes the payload's parts, each in its own transaction, then the rung naming them (`partChars` only). */
  const saveInParts = async (snapshot: Snapshot, partChars: number) => {
    const { name, version, position, payload } = snapshot;
    // The rung's saved_at, and its parts' token: unique to this save (two savers of one position keep apart).
    const token = `${new Date().toISOString()}#${randomBytes(3).toString('hex')}`;
    const key = partKey(name, position, token);
    let count = 0;
    for (let i = 0; i < payload.length || count === 0; i += partChars, count++) {
      if (count > 0) await options.betweenParts?.();
      await db.rows('save snapshot', 'rollcall_save_snapshot_at', saveAtSql, [`${key}${String(count).padStart(6, '0')}`, version, position, payload.slice(i, i + partChars), token]);
    }
    await options.betweenParts?.();
    await db.rows('save snapshot', 'rollcall_save_snapshot_at', saveAtSql, [rungName(name, position, snapshot.at), version, position, `${MANIFEST}${count} ${key}`, token]);
  };

  /** Removes parts no rung names: a pruned rung's (just unpublished), a replaced save's, a crashed save's (once old). */
  const pruneParts = async (name: string, kept: { position: bigint; savedAt: string }[], pruned: Set<string>) => {
    const named = new Set(kept.map((r) => partKey(name, r.position, r.savedAt)));
    const staleBefore = new Date(Date.now() - ORPHAN_MS).toISOString();
    const partRows = await db.rows('list snapshots', 'rollcall_list_snapshot_parts', namesSql, [partPrefix(name), partPrefix(name).length]);
    for (const [rowName] of partRows) {
      const part = rowName as string;
      const key = part.slice(0, part.lastIndexOf('@') + 1);
      if (named.has(key)) continue;
      const token = key.slice(key.indexOf('@', partPrefix(name).length) + 1, -1);
      // A key whose rung was just pruned is named by no listed rung and is removed at once, one part
      // (one short transaction) at a time; one not yet published may be another save's, still staging.
      if (token.slice(0, token.indexOf('#')) < staleBefore || pruned.has(key)) {
        await remove(part);
        await options.betweenParts?.();
      }
    }
  };
  return {
    async load(name) {
      const rungs = await list(name);
      const newest = rungs[rungs.length - 1];
      return newest === undefined ? loadRow(name, name) : loadRow(newest.rowName, name);
    },
    async save(snapshot) {
      const { name } = snapshot;
      if (options.partChars === undefined) {
        await db.rows('save snapshot', 'rollcall_save_snapshot', saveSql, [rungName(name, snapshot.position, snapshot.at), snapshot.version, snapshot.position, snapshot.payload]);
      } else {
        await saveInParts(snapshot, options.partChars);
      }
      // Pruning is best kept, not atomic with the save: a failure leaves one rung too many, never one too few.
      const rungs = await list(name);
      // Sizes change slowly with the fleet: every rung is counted at the newest one's size (no payload is read to measure).
      const keep = rungsToKeep(rungs.map((r) => ({ position: r.position, bytes: snapshot.payload.length })), policy);
      const pruned = new Set<string>();
      for (const r of rungs) {
        if (keep.has(r.position)) continue;
        await remove(r.rowName);
        pruned.add(partKey(name, r.position, r.savedAt));
      }
      await remove(name);
      if (options.partChars !== undefined) await pruneParts(name, rungs.filter((r) => keep.has(r.position)), pruned);
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
