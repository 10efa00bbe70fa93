// TEST FIXTURE, temporary: a stand-in for `rollcall serve` (src/serve) while it is being built, so
// the dashboard's browser test has a real HTTP server on a real store. It serves dist/dashboard and
// the SPEC §6 read routes the page uses, computed with the library. Delete once serve lands.
import { createReadStream, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { auditAgent } from '../../src/projections/auditAgent.js';
import { openRollcall } from '../../src/live/openRollcall.js';
import { readStoreSource, replayStore } from '../../src/replay/replayLog.js';
import type { EventStore } from '../../src/stores/eventStore.js';

export const dashboardDir = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export interface DevServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const startDevServer = async (store: EventStore, options: { port?: number } = {}): Promise<DevServer> => {
  const projection = createLifecycleProjection();
  const live = openRollcall({ store, snapshots: false });
  await live.whenCaughtUp();
  const streams = new Set<ServerResponse>();

  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json', 'rollcall-position': live.position()?.toString() ?? '' });
    res.end(JSON.stringify(body));
  };

  const changes = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const last = req.headers['last-event-id'];
    const fromText = typeof last === 'string' && last !== '' ? last : url.searchParams.get('from');
    const head = (await store.head()) ?? 0n;
    const from = fromText === null ? head : BigInt(fromText);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(': hello\n\n');
    streams.add(res);
    let caughtUp = false;
    const caughtUpAt = (p: bigint) => {
      if (!caughtUp && p >= head) {
        caughtUp = true;
        res.write(`event: caught-up\ndata: ${JSON.stringify({ position: p.toString() })}\n\n`);
      }
    };
    caughtUpAt(from);
    const unsubscribe = live.subscribe(
      (u) => {
        const body = { position: u.position.toString(), type: u.type, changed: u.changed };
        res.write(`id: ${u.position}\nevent: change\ndata: ${JSON.stringify(body)}\n\n`);
        caughtUpAt(u.position);
      },
      { from },
    );
    res.on('close', () => {
      unsubscribe();
      streams.delete(res);
    });
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    const view = () => live.view();
    if (path === '/readyz') {
      const head = await store.head();
      const position = live.position();
      const ready = head === null || (position !== null && position >= head);
      return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'catching-up', position: position?.toString() ?? null, head: head?.toString() ?? null });
    }
    if (path === '/v1/projection') {
      const until = url.searchParams.get('until');
      const asOf = url.searchParams.get('asOf');
      if (until === null && asOf === null) return send(res, 200, view());
      const r = await replayStore(store, projection, { noSnapshot: true, ...(until !== null ? { until: BigInt(until) } : {}), ...(asOf !== null ? { asOf } : {}) });
      return send(res, 200, projection.view(r.state));
    }
    if (path === '/v1/pools') return send(res, 200, view().pools);
    if (path === '/v1/anomalies') return send(res, 200, view().anomalies);
    if (path === '/v1/changes') return changes(req, res, url);
    let m = /^\/v1\/pools\/([^/]+)$/.exec(path);
    if (m) {
      const pool = view().pools[m[1]!];
      return pool ? send(res, 200, pool) : send(res, 404, { error: 'not-found', message: `no pool ${m[1]}` });
    }
    m = /^\/v1\/agents\/([^/]+)\/audit$/.exec(path);
    if (m) return send(res, 200, await auditAgent(projection, readStoreSource(store), m[1]!));
    m = /^\/v1\/agents\/([^/]+)$/.exec(path);
    if (m) {
      const v = view();
      const agent = v.agents[m[1]!];
      if (!agent) return send(res, 404, { error: 'not-found', message: `no agent ${m[1]}` });
      return send(res, 200, { ...agent, sessions: Object.values(v.sessions).filter((s) => s.agentId === agent.agentId) });
    }
    const file = normalize(join(dashboardDir, path === '/' ? 'index.html' : path));
    if (file.startsWith(dashboardDir) && existsSync(file) && extname(file) !== '') {
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      createReadStream(file).pipe(res);
      return;
    }
    send(res, 404, { error: 'not-found', message: `no route ${path}` });
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: 'internal', message: String(e) });
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    async close() {
      for (const res of streams) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await live.close();
    },
  };
};
