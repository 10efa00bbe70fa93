import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { recoverOnStartup } from '../../reconcile/recoverOnStartup.js';
import { startServer } from '../../serve/startServer.js';
import { NPM_START_FLEET, seededLine, seedFleet, seedingLine, seedOptions } from '../seedFleet.js';
import { maskStoreUrl } from '../../stores/maskUrl.js';
import { defaultStoreUrl } from '../../stores/openStore.js';
import { EXIT, usageError } from '../cliIo.js';
import { parseIntervalSeconds, parsePositiveInt, parseRetention, withStore } from '../options.js';
import type { Command } from './command.js';
import { formatRecovery, reconcileConfigFromFlags } from './reconcile.js';

/** A token from a file (first line, trimmed); a file that is empty or unreadable is a usage error. */
const readTokenFile = (flag: string, path: string): string => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw usageError(`${flag} ${path}: ${(e as Error).message}`);
  }
  const token = text.split('\n', 1)[0]!.trim();
  if (token === '') throw usageError(`${flag} ${path}: the file holds no token`);
  return token;
};

export const serveCommand: Command = {
  usage:
    'rollcall serve [--store URL] [--host 127.0.0.1] [--port 7070] [--token-file F] [--read-token TOKEN | --read-token-file F] [--reconcile] [--reconcile-every SECONDS] [--reconcile-host NAME] [--recover] [--suspect-after-s S|off] [--log-level info|warn|silent] [--retention-hours H] [--skip-invalid] [--seed [--seed-end ISO]]\n' +
    '  the write token is ROLLCALL_TOKEN or --token-file; a non-loopback --host needs one\n' +
    '  --reconcile-host: the machine whose pids the in-process reconciler checks (default this one); --recover: its startup recovery (SPEC §7.1) before serving\n' +
    '  --seed: an empty store first gets a generated fleet history (300 agents, 50,000 generated events, seed 1) ending now, as `npm start` does;\n' +
    '  --seed-end ISO: the seeded history ends at that time instead of now (a reproducible fleet: docs/http.md is captured so)',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        store: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'token-file': { type: 'string' },
        'read-token': { type: 'string' },
        'read-token-file': { type: 'string' },
        reconcile: { type: 'boolean' },
        'reconcile-every': { type: 'string' },
        'reconcile-host': { type: 'string' },
        recover: { type: 'boolean' },
        'suspect-after-s': { type: 'string' },
        'log-level': { type: 'string' },
        'retention-hours': { type: 'string' },
        'skip-invalid': { type: 'boolean' },
        seed: { type: 'boolean' },
        'seed-end': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    const port = values.port === '0' ? 0 : parsePositiveInt('--port', values.port, 7070);
    if (port > 65535) throw usageError(`--port must be at most 65535, got ${port}`);
    const token = values['token-file'] !== undefined ? readTokenFile('--token-file', values['token-file']) : io.env['ROLLCALL_TOKEN'] || null;
    if (values['read-token'] !== undefined && values['read-token-file'] !== undefined) throw usageError('use either --read-token or --read-token-file, not both');
    const readToken =
      values['read-token-file'] !== undefined ? readTokenFile('--read-token-file', values['read-token-file']) : values['read-token'] ?? io.env['ROLLCALL_READ_TOKEN'] ?? null;
    if (readToken === '') throw usageError('--read-token is empty');
    if (readToken !== null && token === null) throw usageError('--read-token needs a write token too (ROLLCALL_TOKEN or --token-file): reads would be locked while writes stay open');
    const level = values['log-level'] ?? 'info';
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) throw usageError(`--log-level must be one of info, warn, error, silent, debug; got "${level}"`);
    const everyMs = values['reconcile-every'] === undefined ? 10_000 : parseIntervalSeconds('--reconcile-every', values['reconcile-every']);
    const retentionMs = parseRetention(values['retention-hours']);
    if (values['reconcile-host'] !== undefined && values['reconcile-host'].trim() === '') throw usageError('--reconcile-host must name this machine as sessions record it, got ""');
    if ((values.recover || values['reconcile-host'] !== undefined || values['suspect-after-s'] !== undefined) && !values.reconcile) {
      throw usageError('--recover, --reconcile-host and --suspect-after-s configure the in-process reconciler: add --reconcile');
    }
    const reconcileHost = values['reconcile-host'] ?? hostname();
    const config = reconcileConfigFromFlags(values);
    const url = values.store ?? defaultStoreUrl(io.env);
    if (values['seed-end'] !== undefined && !values.seed) throw usageError('--seed-end goes with --seed');
    const fleet = seedOptions(values['seed-end'], NPM_START_FLEET);

    return withStore(url, async (store) => {
      if (values.seed && (await store.head()) === null) {
        io.stderr.write(seedingLine(maskStoreUrl(url), fleet));
        io.stderr.write(seededLine(await seedFleet(store, fleet)));
      }
      if (values.recover) {
        const recovered = await recoverOnStartup(store, { restartHost: reconcileHost, host: reconcileHost, skipInvalid: values['skip-invalid'] ?? false, ...(retentionMs !== undefined ? { retentionMs } : {}) });
        io.stderr.write(formatRecovery(reconcileHost, recovered).replace(/^/gm, 'rollcall serve: ').replace(/rollcall serve: $/, ''));
      }
      const started = await startServer({
        store,
        host: values.host ?? '127.0.0.1',
        port,
        token,
        readToken,
        logger: { level },
        skipInvalid: values['skip-invalid'] ?? false,
        ...(retentionMs !== undefined ? { retentionMs } : {}),
        reconcile: values.reconcile
          ? { everyMs, host: reconcileHost, config, skipInvalid: values['skip-invalid'] ?? false, ...(retentionMs !== undefined ? { retentionMs } : {}) }
          : null,
      });
      io.stderr.write(
        `rollcall serve: ${maskStoreUrl(url)} on ${started.url}` +
          `${token ? ' (writes need the bearer token)' : ''}${readToken ? ' (reads too)' : ''}${values.reconcile ? ', reconciling in process' : ''}\n` +
          `  try: curl ${started.url}/v1/pools · curl -N ${started.url}/v1/changes · ${started.url}/ in a browser\n`,
      );
      await new Promise<void>((resolve) => {
        if (io.signal === undefined || io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      io.stderr.write('rollcall serve: draining (in-flight requests finish, SSE streams close)…\n');
      await started.close();
      return EXIT.ok;
      // serve writes (POST /v1/events, --seed, --reconcile): the embedded file is created if missing and checked first,
      // and commits on a thread of its own, so that no fsync stops the readers.
    }, { create: true, verify: true, commitThread: true });
  },
};
