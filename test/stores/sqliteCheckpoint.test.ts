import { openSync, closeSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { toRows } from '../../src/stores/sqlite/append.js';
import { createCommitThread } from '../../src/stores/sqlite/commitThread.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { heartbeats } from '../support/events.js';
import { collect } from './conformance.js';
import { tempDbs } from '../support/tempDb.js';

// Under serve the commit thread's connection no longer checkpoints the WAL after the commit that
// takes it past `wal_autocheckpoint` (10,000 pages, open.ts): a connection on a thread of its own
// (checkpointWorker.ts) copies it into the database file once it passes 1,000 pages.

const tempDb = tempDbs('rollcall-checkpoint-');

/** The WAL's frames, from the WAL index header in PATH-shm (mxFrame at byte 16). */
const walFrames = (path: string): number => {
  const fd = openSync(`${path}-shm`, 'r');
  try {
    const b = Buffer.alloc(20);
    readSync(fd, b, 0, 20, 0);
    return endianness() === 'LE' ? b.readUInt32LE(16) : b.readUInt32BE(16);
  } finally {
    closeSync(fd);
  }
};

/** The files of this process's open descriptors that start with `prefix` (Linux: /proc/self/fd). */
const openFilesUnder = (prefix: string): string[] =>
  readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(prefix) ? [target] : [];
    } catch {
      return [];
    }
  });

describe('sqlite background checkpoint (commit thread)', () => {
  it('keeps the WAL far below the automatic checkpoint while groups are committed, and every acknowledged event survives a reopen', async () => {
    const path = tempDb();
    // The serving process's own connection, open throughout (as serve's).
    const store = openSqliteStore({ path });
    const { dev, ino } = statSync(path);
    const checkpoints: { log: number; backfilled: number }[] = [];
    let heard: (() => void) | null = null;
    const thread = createCommitThread({ path, url: `sqlite:${path}`, busyTimeoutMs: 5000, expected: { dev, ino } }, (c) => {
      checkpoints.push(c);
      heard?.();
    });
    const nextCheckpoint = () => new Promise<void>((resolve) => (heard = resolve));
    const acknowledged: string[] = [];
    let maxFrames = 0;
    let resets = 0;
    try {
      for (let group = 0; resets < 3; group++) {
        expect(group, 'the WAL was never emptied by a background checkpoint').toBeLessThan(2000);
        const events = heartbeats(200, { prefix: `g${group}-` });
        const waiting = nextCheckpoint();
        const before = walFrames(path);
        const { outcomes } = await thread.appendRows([{ rows: toRows(events) }]);
        expect(outcomes[0]!.success).toBe(true);
        acknowledged.push(...events.map((e) => e.id));
        const frames = walFrames(path);
        maxFrames = Math.max(maxFrames, frames);
        if (frames < before) resets++;
        // Past twice the threshold: the checkpointer has been asked; the next group waits for its answer.
        if (frames >= 2000) await waiting;
      }
      // Each done by the checkpointer well before the commit connection's own bound.
      expect(checkpoints.length).toBeGreaterThan(0);
      expect(checkpoints.every((c) => c.log >= 1000 && c.log < 10_000)).toBe(true);
      expect(checkpoints.some((c) => c.backfilled === c.log)).toBe(true);
      expect(maxFrames).toBeLessThan(10_000);
    } finally {
      await thread.close();
      await store.close();
    }
    // Closed, the thread and its checkpointer leave no descriptor of the store open in this process.
    if (process.platform === 'linux') expect(openFilesUnder(path)).toEqual([]);
    const reopened = openSqliteStore({ path, create: false });
    try {
      const ids = (await collect(reopened.readAll())).map((e) => e.id);
      expect(ids).toEqual(acknowledged);
    } finally {
      await reopened.close();
    }
  });
});
