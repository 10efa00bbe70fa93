import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private PostgreSQL primary with a streaming hot standby, each its own server process on a
 * loopback port, built from the local installation's binaries (initdb, pg_basebackup, pg_ctl):
 * what the replica and TLS tests need and the shared test server cannot give (it has no SSL and
 * no standby). fsync is off: these servers hold throwaway test data.
 */
export interface PgCluster {
  /** Superuser URL of the primary (trust auth, TLS offered). */
  primaryUrl: string;
  /** Superuser URL of the hot standby, streaming from the primary. */
  standbyUrl: string;
  /** A certificate for CN/SAN localhost, valid as its own CA (`sslrootcert=`). */
  caFile: string;
  stop(): Promise<void>;
}

const binDir = (): string | null => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : null;
};

/** Whether this machine can build a private cluster (PostgreSQL server binaries installed). */
export const canStartPgCluster = (): boolean => binDir() !== null;

const freePort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
};

const waitForReplication = async (url: string, timeoutMs: number): Promise<void> => {
  const pg = (await import('pg')).default;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_replication');
      if (rows[0]!.n > 0) return;
    } catch {
      // not up yet
    } finally {
      await c.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`the standby did not start streaming within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

export const startPgCluster = async (): Promise<PgCluster> => {
  const bin = binDir();
  if (!bin) throw new Error('PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not installed');
  // The server refuses to run as root: run its tools as the postgres user when we are root. That
  // user must reach the cluster's folder: the temporary folder unless it is private (a TMPDIR in a
  // 0700 folder), then the system's /tmp.
  const asRoot = process.getuid?.() === 0;
  const reachable = (dir: string) => !asRoot || spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', dir, '-a', '-x', dir]).status === 0;
  const root = mkdtempSync(join(reachable(tmpdir()) ? tmpdir() : '/tmp', 'rollcall-pgcluster-'));
  const owner = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : -1;
  const group = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : -1;
  const run = (tool: string, args: string[]) => {
    const cmd = asRoot ? 'runuser' : join(bin, tool);
    const argv = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error}`);
  };
  const own = (path: string) => {
    if (asRoot) chownSync(path, owner, group);
  };
  own(root);
  chmodSync(root, 0o755);
  const primary = join(root, 'primary');
  const standby = join(root, 'standby');
  const sockets = join(root, 'sockets');
  mkdirSync(sockets);
  own(sockets);
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const started: string[] = [];
  const stop = async () => {
    for (const dir of started.reverse()) {
      try {
        run('pg_ctl', ['-D', dir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    run('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const key = join(primary, 'server.key');
    const cert = join(primary, 'server.crt');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    own(key);
    own(cert);
    chmodSync(key, 0o600);
    const caFile = join(root, 'ca.crt');
    writeFileSync(caFile, execFileSync('cat', [cert]));
    appendFileSync(
      join(primary, 'postgresql.conf'),
      [
        `port = ${primaryPort}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${sockets}'`,
        'wal_level = replica',
        'max_wal_senders = 4',
        'hot_standby = on',
        'fsync = off',
        'synchronous_commit = off',
        'shared_buffers = 16MB',
        'max_connections = 60',
        'ssl = on',
        "ssl_cert_file = 'server.crt'",
        "ssl_key_file = 'server.key'",
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(primary, 'pg_hba.conf'),
      ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust', ''].join('\n'),
    );
    run('pg_ctl', ['-D', primary, '-l', join(root, 'primary.log'), '-w', '-t', '60', 'start']);
    started.push(primary);
    run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', standby, '-R', '-X', 'stream', '--no-sync']);
    appendFileSync(join(standby, 'postgresql.conf'), `port = ${standbyPort}\n`);
    run('pg_ctl', ['-D', standby, '-l', join(root, 'standby.log'), '-w', '-t', '60', 'start']);
    started.push(standby);
    const primaryUrl = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`;
    await waitForReplication(primaryUrl, 30_000);
    return { primaryUrl, standbyUrl: `postgres://postgres@127.0.0.1:${standbyPort}/postgres`, caFile, stop };
  } catch (e) {
    await stop();
    throw e;
  }
};
