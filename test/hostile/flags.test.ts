import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, dumpSqlite, ndjsonFile, tempDir } from '../support/cli.js';

// Wrong flags and values on every command: exit 2, one line saying what is wrong, nothing written.

const at = '2026-11-20T10:00:00.000Z';
const events = [{ type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' }, metadata: { at } }];

/** [args (STORE is a seeded sqlite store, FILE an NDJSON file), first line of stderr] */
const cases: Array<[string[], string]> = [
  [['replay', '--store', 'STORE', '--until', 'abc'], 'rollcall: --until must be a non-negative integer position, got "abc"'],
  [['replay', '--store', 'STORE', '--until=-1'], 'rollcall: --until must be a non-negative integer position, got "-1"'],
  [['replay', '--store', 'STORE', '--until', '1.5'], 'rollcall: --until must be a non-negative integer position, got "1.5"'],
  [['replay', '--store', 'STORE', '--until', ''], 'rollcall: --until must be a non-negative integer position, got ""'],
  [['replay', '--store', 'STORE', '--as-of', 'abc'], 'rollcall: --as-of must be an ISO-8601 time with a zone (e.g. 2026-11-20T10:00:00Z), got "abc"'],
  [['replay', '--store', 'STORE', '--as-of', '2026-11-20T10:00:00'], 'rollcall: --as-of must be an ISO-8601 time with a zone (e.g. 2026-11-20T10:00:00Z), got "2026-11-20T10:00:00"'],
  [['replay', '--store', 'STORE', '--retention-hours', ''], 'rollcall: --retention-hours must be a non-negative number, got ""'],
  [['replay', '--store', 'STORE', '--retention-hours', '  '], 'rollcall: --retention-hours must be a non-negative number, got "  "'],
  [['replay', '--store', 'STORE', '--retention-hours=-5'], 'rollcall: --retention-hours must be a non-negative number, got "-5"'],
  [['replay', '--store', 'STORE', '--retention-hours', 'Infinity'], 'rollcall: --retention-hours must be a non-negative number, got "Infinity"'],
  [['check', '--store', 'STORE', '--retention-hours', ''], 'rollcall: --retention-hours must be a non-negative number, got ""'],
  [['audit', 'a1', '--store', 'STORE', '--retention-hours', ''], 'rollcall: --retention-hours must be a non-negative number, got ""'],
  [['replay', '--store', 'STORE', '--input', 'FILE'], 'rollcall: use either --store or --input, not both'],
  [['replay', '--store', 'STORE', '--json=yes'], "rollcall: Option '--json' does not take an argument (see rollcall --help)"],
  [['replay', '--store', 'STORE', 'extra'], "rollcall: Unexpected argument 'extra'. This command does not take positional arguments (see rollcall --help)"],
  [['audit', '--store', 'STORE'], 'rollcall: audit needs exactly one AGENT_ID'],
  [['audit', 'a1', 'a2', '--store', 'STORE'], 'rollcall: audit needs exactly one AGENT_ID'],
  [['generate', '--agents=-1', '--events', '10'], 'rollcall: --agents must be a positive integer, got "-1"'],
  [['generate', '--agents', '-1', '--events', '10'], "rollcall: Option '--agents' argument is ambiguous. Did you forget to specify the option argument for '--agents'? To specify an option argument starting with a dash use '--agents=-XYZ'. (see rollcall --help)"],
  [['generate', '--agents', '0', '--events', '10'], 'rollcall: --agents must be a positive integer, got "0"'],
  [['generate', '--agents', '1e3', '--events', '10'], 'rollcall: --agents must be a positive integer, got "1e3"'],
  [['generate', '--agents', '5', '--events', '99999999999999999999'], 'rollcall: --events must be a positive integer, got "99999999999999999999"'],
  [['generate', '--agents', '5'], 'rollcall: --events is required'],
  [['watch', '--store', 'STORE', '--from', 'abc'], 'rollcall: --from must be a non-negative integer position, got "abc"'],
  [['reconcile', '--store', 'STORE', '--every', ''], 'rollcall: --every must be a positive number of seconds, got ""'],
  [['reconcile', '--store', 'STORE', '--once', '--every', '5'], 'rollcall: use either --once or --every SECONDS, not both'],
  [['replay', '--store', 'postgres://u:secret@h:notaport/db'], 'rollcall: invalid PostgreSQL URL "postgres://u:***@h:notaport/db" (expected postgres://HOST:PORT/DATABASE, with USER:PASSWORD@ before the host; percent-encode / # ? @ in a password)'],
  [['replay', '--store', 'postgresql://u:pw@h:99999/db'], 'rollcall: invalid PostgreSQL URL "postgresql://u:***@h:99999/db" (expected postgres://HOST:PORT/DATABASE, with USER:PASSWORD@ before the host; percent-encode / # ? @ in a password)'],
  [['replay', '--store', 'esdb://'], 'rollcall: '],
  [['frobnicate'], 'rollcall: unknown command "frobnicate" (see rollcall --help)'],
];

describe('bad flags and values', () => {
  it.each(cases)('%j → exit 2, one line, store unchanged', async (args, message) => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const file = ndjsonFile(events, dir);
    expect((await cli(['append', '--store', `sqlite:${path}`, file])).code).toBe(0);
    const before = dumpSqlite(path);
    const r = await cli(args.map((a) => (a === 'STORE' ? `sqlite:${path}` : a === 'FILE' ? file : a)));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toContain(message);
    if (message !== 'rollcall: ') expect(r.stderr.split('\n')[0]).toBe(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(dumpSqlite(path)).toBe(before);
  });

  it('--help after -- is an argument, not a request for help', async () => {
    const r = await cli(['audit', '--input', 'x', '--', '--help']);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
  });

  it('--help before -- still shows the usage', async () => {
    const r = await cli(['append', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rollcall append \[--store URL\] \[--max-clock-skew SECONDS\] \[FILE \| -\]/);
  });
});
