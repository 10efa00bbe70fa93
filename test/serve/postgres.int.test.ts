import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { StartedServer } from '../../src/serve/startServer.js';
import { openPostgresStore } from '../../src/stores/postgresStore.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { postgresForTests } from '../support/postgres.js';
import { startProxy } from '../support/tcpProxy.js';
import { canonical, fleet, getJson, postEvents, serve } from './harness.js';
import { waitFor } from '../support/waitFor.js';

// Real servers and clients on a shared machine: room beyond vitest's 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const { server: pg, freshDatabase, cleanup } = await postgresForTests('all');

describe.skipIf(pg === null)('serve on PostgreSQL', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase();
  });

  const replica = async (storeUrl: string, options: Parameters<typeof serve>[1] = {}): Promise<{ store: EventStore; server: StartedServer }> => {
    const store = await openPostgresStore({ url: storeUrl });
    const server = await serve(store, options);
    cleanup(() => store.close());
    cleanup(() => server.close());
    return { store, server };
  };

  it('two replicas converge: the same /v1/projection at the same position', async () => {
    const a = await replica(url);
    const b = await replica(url);
    const events = fleet(30, 3000, 7);
    // Writes go to both replicas, interleaved, as a load balancer would send them.
    let last = 0n;
    for (let i = 0; i < events.length; i += 250) {
      const target = (i / 250) % 2 === 0 ? a : b;
      const res = await postEvents(target.server.url, JSON.stringify(events.slice(i, i + 250)));
      expect(res.status).toBe(201);
      last = BigInt(res.body.last);
    }
    const [va, vb] = await Promise.all([a, b].map((r) => getJson(`${r.server.url}/v1/projection?minPosition=${last}&waitMs=30000`)));
    expect(va!.status).toBe(200);
    expect(va!.body.position).toBe(String(last));
    expect(vb!.body.position).toBe(String(last));
    expect(canonical(va!.text)).toBe(canonical(vb!.text));
    expect(Object.keys(va!.body.agents).length).toBeGreaterThanOrEqual(30);
  }, 120_000);

  it('/readyz is 503 store-unavailable while PostgreSQL is unreachable and ready again when it returns', async () => {
    const proxy = await startProxy(new URL(url));
    cleanup(proxy.close);
    const { server } = await replica(proxy.url(url));
    // Readiness changes announce nothing: looked at until it is what is wanted (the timeout only catches a hang).
    const ready = async (want: number) => {
      let last: Awaited<ReturnType<typeof getJson>> | undefined;
      return waitFor(`/readyz ${want}`, async () => ((last = await getJson(`${server.url}/readyz`)).status === want ? last : null), {
        intervalMs: 100,
        describe: () => last,
      });
    };
    expect((await ready(200)).body.status).toBe('ready');
    proxy.cut();
    const down = await ready(503);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('store-unavailable');
    // The last view keeps being served meanwhile, and health says the process runs.
    expect((await getJson(`${server.url}/v1/pools`)).status).toBe(200);
    expect((await getJson(`${server.url}/healthz`)).status).toBe(200);
    proxy.restore();
    const back = await ready(200);
    expect(back.body.status).toBe('ready');
  }, 120_000);
});
