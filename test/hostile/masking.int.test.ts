import { describe, expect, it } from 'vitest';
import { cli, ndjsonFile, runBuilt } from '../support/cli.js';
import { postgresForTests } from '../support/postgres.js';

// No password reaches any output: success lines, errors, demo, ROLLCALL_STORE. The local server
// trusts 127.0.0.1, so a URL with a password still connects and the success paths are exercised.

const SECRET = 's3cret-pw';
const at = '2026-11-20T10:00:00.000Z';
const file = () =>
  ndjsonFile([
    { type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' }, metadata: { at } },
    { type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at } },
  ]);

const noSecret = (r: { stdout: string; stderr: string }) => {
  expect(r.stdout).not.toContain('s3cret');
  expect(r.stderr).not.toContain('s3cret');
};

const { server: pg, freshDatabase } = await postgresForTests('all');

/** A fresh database's URL with the password put in by `form`. */
const database = async (form: (u: URL) => string) => form(new URL(await freshDatabase()));

const forms: Array<[string, (u: URL) => string]> = [
  ['user:password@', (u) => `postgres://${u.username || 'postgres'}:${SECRET}@${u.host}${u.pathname}`],
  ['an unencoded @ in the password', (u) => `postgres://${u.username || 'postgres'}:${SECRET}@x@${u.host}${u.pathname}`],
  ['?password=', (u) => `postgres://${u.username || 'postgres'}@${u.host}${u.pathname}?password=${SECRET}`],
  ['postgresql:// and &password=', (u) => `postgresql://${u.host}${u.pathname}?user=${u.username || 'postgres'}&password=${SECRET}`],
];

describe('a password in the store URL never reaches the output', () => {
  it.each(forms)('append, replay, check and demo on PostgreSQL, with %s', async (_name, form) => {
    if (!pg) return;
    const url = await database(form);
    const a = await cli(['append', '--store', url, file()]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^appended 2 event\(s\) to postgres(ql)?:\/\/.*\*\*\*.*, positions 1–2\n$/);
    noSecret(a);
    for (const args of [['replay'], ['replay', '--json'], ['check'], ['audit', 'a1']]) {
      const r = await cli([...args, '--store', url]);
      expect(r.code).toBe(0);
      noSecret(r);
    }
    const demo = await cli(['demo', '--store', await database(form), '--agents', '5', '--events', '300']);
    expect(demo.code).toBe(0);
    expect(demo.stderr).toContain('***');
    noSecret(demo);
  }, 60_000);

  it.each([
    ['postgres, unreachable', 3, `postgres://u:${SECRET}@127.0.0.1:1/db`],
    ['postgres, unencoded / in the password (an invalid URL)', 2, `postgres://u:${SECRET}/x@127.0.0.1:1/db`],
    ['postgres, unencoded # in the password (an invalid URL)', 2, `postgres://u:${SECRET}#x@127.0.0.1:1/db`],
    ['esdb, empty user (the client refuses the URL)', 2, `esdb://:${SECRET}@127.0.0.1:1?tls=false`],
    ['esdb, user and password, unreachable', 3, `esdb://admin:${SECRET}@127.0.0.1:1?tls=false`],
    ['a key=value string (no store URL)', 2, `host=127.0.0.1 password=${SECRET} dbname=x`],
  ] as const)('%s: exit %i, the error masked, also from ROLLCALL_STORE in a real process', async (_name, code, url) => {
    const direct = await cli(['replay', '--store', url]);
    expect(direct.code).toBe(code);
    expect(direct.stderr).toMatch(/^rollcall: /);
    noSecret(direct);
    const fromEnv = await runBuilt(['append', file()], { env: { ROLLCALL_STORE: url } });
    expect(fromEnv.code).toBe(code);
    noSecret(fromEnv);
  }, 60_000);
});
