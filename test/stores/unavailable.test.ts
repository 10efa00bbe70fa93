import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/stores/postgresStore.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { openStore } from '../../src/stores/openStore.js';

const dir = mkdtempSync(join(tmpdir(), 'rollcall-unavailable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A localhost port nothing listens on. */
const closedPort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
};

const unavailable = { code: 'store-unavailable' };

describe('an unreachable store is reported as store-unavailable', () => {
  it('postgres on a closed port, fast, with the password masked', async () => {
    const port = await closedPort();
    const started = Date.now();
    const error = await openStore(`postgres://rollcall:hunter2@127.0.0.1:${port}/rollcall`).catch((e: unknown) => e);
    expect(error).toMatchObject(unavailable);
    expect((error as Error).message).toContain(`postgres://rollcall:***@127.0.0.1:${port}/rollcall`);
    expect((error as Error).message).not.toContain('hunter2');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('postgres that accepts the connection but never answers times out', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s)); // silent: never speaks the protocol
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const started = Date.now();
    try {
      await expect(openPostgresStore({ url: `postgres://x@127.0.0.1:${port}/db`, connectTimeoutMs: 500 })).rejects.toMatchObject(unavailable);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('sqlite in a directory that does not exist', async () => {
    const path = join(dir, 'no', 'such', 'dir', 'log.db');
    expect(() => openSqliteStore({ path })).toThrow(expect.objectContaining({ ...unavailable, message: expect.stringContaining('does not exist') }));
    await expect(openStore(`sqlite:${path}`)).rejects.toMatchObject(unavailable);
  });

  it('sqlite on a file that is not a database, or on a directory', async () => {
    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not an SQLite database, just some text that is long enough to have a header'.repeat(20));
    // A file that is not a database is damage (exit 3 too), reported as such and left untouched.
    expect(() => openSqliteStore({ path: garbage })).toThrow(expect.objectContaining({ code: 'corrupt-store' }));
    expect(() => openSqliteStore({ path: dir })).toThrow(expect.objectContaining(unavailable));
  });

  it('a closed store refuses further work with store-unavailable', async () => {
    const store = openSqliteStore({ path: join(dir, 'closed.db') });
    await store.close();
    await expect(store.appendBatch([])).rejects.toMatchObject(unavailable);
    await expect(store.head()).rejects.toMatchObject(unavailable);
  });
});
