import { EventStoreDBClient } from '@eventstore/db-client';
import { RollcallError } from '../../errors.js';
import { maskStoreUrl } from '../maskUrl.js';
import { isRollcallRecord } from './records.js';
import { toRollcallError } from './errors.js';
import { splitConnectionString, type EsdbUrlParams } from './url.js';

/** What every part of the adapter shares: the client, the masked URL, and the log's namespace. */
export interface EsdbConnection {
  readonly client: EventStoreDBClient;
  /** The store URL with its password masked: the only form that reaches a message. */
  readonly url: string;
  readonly params: EsdbUrlParams;
  /** Prefix of every stream of this log on the server ('' = none). */
  readonly namespace: string;
  /** Stream name on the server of one of our streams (the namespace prepended). */
  physical(stream: string): string;
  /** Whether a record of $all belongs to this log. */
  ours(e: { streamId: string; type: string }): boolean;
  /** A client failure → RollcallError naming the masked URL and what was being done. */
  fail(e: unknown, what: string, stream?: string): RollcallError;
  /** Aborts when the store closes: ends live subscriptions and their retry waits. */
  readonly lifetime: AbortSignal;
  close(): Promise<void>;
}

/**
 * Creates the client from a store URL. The client parses it: single nodes (`esdb://h:2113`),
 * gossip seeds of a cluster (`esdb://a:2113,b:2113,c:2113`), DNS discovery (`esdb+discover://`)
 * and its settings (`tls`, `tlsVerifyCert`, `tlsCAFile`, `nodePreference`, `keepAliveInterval`,
 * credentials, …). rollcall's own parameters are removed first.
 */
export const connectEsdb = (rawUrl: string, namespace?: string): EsdbConnection => {
  const url = maskStoreUrl(rawUrl);
  const { connectionString, params } = splitConnectionString(rawUrl);
  let client: EventStoreDBClient;
  try {
    client = EventStoreDBClient.connectionString(connectionString);
  } catch (e) {
    throw new RollcallError('usage', `invalid EventStoreDB URL ${url}: ${(e as Error).message}`, { cause: e });
  }
  const ns = namespace ?? params.namespace ?? '';
  const lifetime = new AbortController();
  return {
    client,
    url,
    params,
    namespace: ns,
    physical: (stream) => ns + stream,
    ours: (e) => isRollcallRecord(e, ns),
    fail: (e, what, stream) => toRollcallError(e, url, what, stream),
    lifetime: lifetime.signal,
    async close() {
      lifetime.abort();
      await client.dispose();
    },
  };
};

/**
 * Fails fast (and clearly) when nothing answers: an unreachable host would otherwise hang until
 * the first call's own deadline, and a refused connection would surface as a raw gRPC error.
 * `probe` is any cheap read.
 */
export const checkReachable = async (conn: EsdbConnection, timeoutMs: number, probe: () => Promise<unknown>): Promise<void> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new RollcallError(
                'store-unavailable',
                `EventStoreDB at ${conn.url} did not answer within ${timeoutMs} ms (is it running and reachable? use ?tls=false for an insecure node)`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } catch (e) {
    await conn.client.dispose().catch(() => undefined);
    if (e instanceof RollcallError && e.code === 'store-unavailable') throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new RollcallError('store-unavailable', `EventStoreDB at ${conn.url} is unavailable: ${reason}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
};
