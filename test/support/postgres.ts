import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, afterEach } from 'vitest';

/** A reachable PostgreSQL server for integration tests. */
export interface TestPostgres {
  /** Admin URL (a database we may CREATE DATABASE from). */
  url: string;
  /** A fresh, empty database; `drop` removes it even if connections are still open. */
  createDatabase(): Promise<{ url: string; drop(): Promise<void> }>;
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const reachable = async (url: string): Promise<boolean> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
};

/** Starts the local Debian cluster(s) (`pg_ctlcluster … main start`), if there are any. */
const startLocalCluster = (): void => {
  if (!existsSync('/etc/postgresql')) return;
  for (const version of readdirSync('/etc/postgresql')) {
    try {
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'ignore', timeout: 20_000 });
    } catch {
      // Already running, or not ours to start: the reachability check decides.
    }
  }
};

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

let found: Promise<TestPostgres | null> | undefined;

/**
 * The server at ROLLCALL_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * starting the local cluster if it does not answer. Null when there is none, after a printed
 * notice, so PostgreSQL tests skip; with CI=true a missing server is an error instead, so that CI
 * can never pass by skipping them.
 */
export const findPostgres = (): Promise<TestPostgres | null> =>
  (found ??= (async () => {
    const url = process.env['ROLLCALL_TEST_PG_URL'] || DEFAULT_URL;
    let ok = await reachable(url);
    if (!ok) {
      startLocalCluster();
      for (let i = 0; i < 20 && !ok; i++) {
        ok = await reachable(url);
        if (!ok) await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (!ok) {
      const message = `PostgreSQL is not reachable at ${url.replace(/:[^:@/]*@/, ':***@')} (set ROLLCALL_TEST_PG_URL)`;
      if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true, so the PostgreSQL tests fail instead of skipping`);
      console.warn(`NOTICE: ${message}; skipping the PostgreSQL integration tests.`);
      return null;
    }
    return {
      url,
      async createDatabase() {
        const name = `rollcall_test_${randomBytes(6).toString('hex')}`;
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE ${name}`);
        } finally {
          await admin.end();
        }
        return {
          url: withDatabase(url, name),
          async drop() {
            const c = new pg.Client({ connectionString: url });
            await c.connect();
            try {
              await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            } finally {
              await c.end();
            }
          },
        };
      },
    };
  })());

export interface PostgresForTests {
  /** The server, or null when there is none (the file's tests skip; with CI=true findPostgres throws). */
  server: TestPostgres | null;
  /** A fresh, empty database's URL, dropped at the cleanup. */
  freshDatabase(): Promise<string>;
  /** Something to undo at the same cleanup (a store or client to close), before older entries. */
  cleanup(undo: () => Promise<unknown>): void;
}

/**
 * The setup every PostgreSQL test file shares: the server ({@link findPostgres}), fresh databases,
 * and one cleanup list undone newest first, errors ignored (a dropped database ends its
 * connections), after each test (`'each'`) or after the file (`'all'`). Call it at the top of the
 * file: `const { server, freshDatabase, cleanup } = await postgresForTests('each');`.
 */
export const postgresForTests = async (when: 'each' | 'all'): Promise<PostgresForTests> => {
  const server = await findPostgres();
  const undo: Array<() => Promise<unknown>> = [];
  (when === 'each' ? afterEach : afterAll)(async () => {
    while (undo.length) await undo.pop()!().catch(() => undefined);
  }, 120_000);
  return {
    server,
    async freshDatabase() {
      if (server === null) throw new Error('no PostgreSQL server (the test should have been skipped)');
      const db = await server.createDatabase();
      undo.push(db.drop);
      return db.url;
    },
    cleanup: (f) => void undo.push(f),
  };
};
