import { isIP } from 'node:net';
import { RollcallError } from '../errors.js';
import type { Rollcall } from '../live/types.js';
import { runReconciler, type RunReconcilerOptions } from '../reconcile/reconciler.js';
import { openRollcall } from '../live/openRollcall.js';
import { createServer, type RollcallServer, type ServerOptions } from './createServer.js';
import { maskUrl } from '../stores/maskUrl.js';

export interface StartServerOptions extends Omit<ServerOptions, 'rollcall'> {
  host?: string;
  port?: number;
  /** The retention window of the live runtime it opens (default 24 h); routes read it from its projection. */
  retentionMs?: number;
  /** Runs the reconciler loop in this process, its corrections counted in /metrics. */
  reconcile?: Omit<RunReconcilerOptions, 'signal' | 'onPass' | 'onError'> | null;
  /** Reports a failed reconcile pass (the loop goes on). */
  onReconcileError?: (error: unknown) => void;
}

export interface StartedServer {
  /** Where it listens, e.g. http://127.0.0.1:7070. */
  url: string;
  server: RollcallServer;
  rollcall: Rollcall;
  /** Drains: stops accepting, ends SSE streams, finishes in-flight requests, stops the reconciler and the live runtime. The store stays open (the caller's). */
  close(): Promise<void>;
}

/** True for an address that only this machine can reach. */
export const isLoopback = (host: string): boolean => {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h.startsWith('::ffff:127.');
};

const listenReasons: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is in use by another process (choose another --port, or stop that process)',
  EADDRNOTAVAIL: 'no network interface of this machine has that address (check --host)',
  ENOTFOUND: 'the host name does not resolve (check --host)',
  EAI_AGAIN: 'the host name could not be resolved now (check --host and DNS)',
  EACCES: 'permission denied (ports below 1024 need privileges; choose another --port)',
  EAFNOSUPPORT: 'this machine does not support that address family (check --host)',
};

/** The environment's refusal to listen as a usage error (exit 2, one line), not an internal one. */
const listenError = (e: unknown, host: string, port: number): unknown => {
  const reason = listenReasons[(e as NodeJS.ErrnoException | null)?.code ?? ''];
  return reason === undefined ? e : new RollcallError('usage', `cannot listen on ${host}:${port}: ${reason}`, { cause: e });
};

/**
 * Opens the live runtime on `store`, serves it over HTTP and (optionally) reconciles in process.
 * Refuses a non-loopback bind without a write token: an open POST /v1/events on a network would
 * let anyone rewrite the fleet's history.
 */
export const startServer = async (options: StartServerOptions): Promise<StartedServer> => {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 7070;
  if (!isLoopback(host) && !options.token) {
    throw new RollcallError('usage', `refusing to listen on ${host} without a token: set ROLLCALL_TOKEN or --token-file (or bind 127.0.0.1)`);
  }
  const rollcall = openRollcall({
    store: options.store,
    // Time travel and far resumes start from the nearest rung: serve fills the ladder's empty cells.
    fillLadder: true,
    ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}),
    ...(options.skipInvalid !== undefined ? { skipInvalid: options.skipInvalid } : {}),
  });
  let server: RollcallServer | undefined;
  const stopReconciler = new AbortController();
  let reconciler: Promise<unknown> = Promise.resolve();
  try {
    server = await createServer({ ...options, rollcall });
    const address = await server.app.listen({ host, port }).catch((e: unknown) => {
      throw listenError(e, host, port);
    });
    if (options.reconcile) {
      const s = server;
      reconciler = runReconciler(options.store, {
        ...options.reconcile,
        signal: stopReconciler.signal,
        onPass: (_pass, total) => s.setCorrections(total.corrections),
        onError: (error) => {
          const message = maskUrl(error instanceof Error ? error.message : String(error));
          if (options.onReconcileError) options.onReconcileError(error);
          else s.app.log.warn({ err: { message } }, 'reconcile pass failed');
        },
      }).catch((error: unknown) => s.app.log.error({ err: { message: maskUrl(String(error)) } }, 'reconciler stopped'));
    }
    const s = server;
    return {
      url: address.replace('[::1]', 'localhost'),
      server: s,
      rollcall,
      async close() {
        stopReconciler.abort();
        await s.close();
        await reconciler;
        await rollcall.close();
      },
    };
  } catch (error) {
    stopReconciler.abort();
    await server?.close().catch(() => undefined);
    await rollcall.close();
    throw error;
  }
};

