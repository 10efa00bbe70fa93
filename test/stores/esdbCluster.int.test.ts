import { afterEach, describe, expect, it } from 'vitest';
import { openEsdbStore } from '../../src/stores/esdbStore.js';
import { openStore } from '../../src/stores/openStore.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { heartbeats } from '../support/events.js';
import { startFakeEsdb, type FakeEsdb, type GossipMember } from '../support/esdbServer.js';
import { waitFor } from '../support/waitFor.js';
import { collect } from './conformance.js';

/*
 * Cluster URLs (`esdb://a:2113,b:2113,c:2113`) go to the client unchanged; its discovery asks the
 * seeds' Gossip API for the members and connects to the one `nodePreference` picks (the leader by
 * default). Three in-process stand-in nodes serve Gossip with members the test dictates. They do
 * not replicate to each other: what is verified is discovery, seed fail-over and reconnecting to a
 * new leader, not a real cluster's replication or elections.
 */

const nodes: FakeEsdb[] = [];
const stores: EventStore[] = [];
afterEach(async () => {
  while (stores.length) await stores.pop()!.close().catch(() => undefined);
  while (nodes.length) await nodes.pop()!.stop();
});

/** Three stand-in nodes answering gossip with `members()`; returns them and the cluster URL listing all three. */
const startCluster = async (members: (ports: number[]) => GossipMember[]) => {
  let ports: number[] = [];
  const gossip = () => members(ports);
  for (let i = 0; i < 3; i++) nodes.push(await startFakeEsdb({ gossip }));
  ports = nodes.map((n) => n.port);
  const url = `esdb://${ports.map((p) => `127.0.0.1:${p}`).join(',')}?tls=false&discoveryInterval=50&gossipTimeout=2`;
  return { nodes: [...nodes], ports, url };
};

const states = (leader: number, ports: number[]): GossipMember[] =>
  ports.map((port, i) => ({ port, state: i === leader ? 'leader' : 'follower', alive: true }));

describe('EventStoreDB cluster URLs', () => {
  it('discovers the leader through gossip and writes and reads only there', async () => {
    const cluster = await startCluster((ports) => states(2, ports));
    const store = await openStore(cluster.url);
    stores.push(store);
    const events = heartbeats(20, { agents: 4 });
    await store.appendBatch(events);
    expect((await collect(store.readAll())).map((e) => e.id)).toEqual(events.map((e) => e.id));
    const [a, b, c] = cluster.nodes;
    const ours = (n: FakeEsdb) => n.records().filter((r) => r.stream.startsWith('agent-')).length;
    expect([ours(a!), ours(b!), ours(c!)]).toEqual([0, 0, 20]);
    expect(a!.calls.gossip + b!.calls.gossip + c!.calls.gossip).toBeGreaterThan(0);
    expect(a!.calls.append + a!.calls.batchAppend + b!.calls.append + b!.calls.batchAppend).toBe(0);
  });

  it('nodePreference=follower connects to a follower instead', async () => {
    const cluster = await startCluster((ports) => states(0, ports));
    const store = await openStore(`${cluster.url}&nodePreference=follower`);
    stores.push(store);
    await store.head();
    const [a, b, c] = cluster.nodes;
    expect(a!.calls.read).toBe(0);
    expect(b!.calls.read + c!.calls.read).toBeGreaterThan(0);
  });

  it('a dead seed is skipped: discovery asks the next one', async () => {
    const cluster = await startCluster((ports) => states(1, ports).map((m, i) => (i === 0 ? { ...m, alive: false } : m)));
    await cluster.nodes[0]!.stop();
    const store = await openEsdbStore({ url: cluster.url, connectTimeoutMs: 10_000 });
    stores.push(store);
    await store.appendBatch(heartbeats(3));
    expect(cluster.nodes[1]!.records().filter((r) => r.stream.startsWith('agent-'))).toHaveLength(3);
  });

  it('when the leader goes away, the store reconnects to the new leader gossip names', async () => {
    let leader = 2;
    const cluster = await startCluster((ports) => states(leader, ports).map((m, i) => (i === 2 && leader !== 2 ? { ...m, alive: false } : m)));
    const store = await openEsdbStore({ url: cluster.url, connectTimeoutMs: 10_000 });
    stores.push(store);
    await store.appendBatch(heartbeats(2, { prefix: 'before' }));
    expect(cluster.nodes[2]!.records().filter((r) => r.stream.startsWith('agent-'))).toHaveLength(2);
    leader = 1;
    await cluster.nodes[2]!.stop();
    // The first call after the loss may fail (store-unavailable, exit 3); the client rediscovers.
    const after = heartbeats(2, { prefix: 'after' });
    const errors: string[] = [];
    const done = await waitFor(
      'an append through the rediscovered leader',
      () =>
        store.appendBatch(after).then(
          () => true,
          (e: unknown) => void errors.push((e as { code?: string }).code ?? String(e)),
        ),
      { intervalMs: 100, describe: () => errors },
    );
    expect(done).toBe(true);
    expect(new Set(errors)).toEqual(new Set(errors.length ? ['store-unavailable'] : []));
    expect(cluster.nodes[1]!.records().filter((r) => r.stream.startsWith('agent-after'))).toHaveLength(2);
  }, 30_000);
});
