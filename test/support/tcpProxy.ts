import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** A TCP link to the server that a test can cut (dropping every connection, refusing new ones) and restore. */
export const startProxy = async (target: URL) => {
  const sockets = new Set<Socket>();
  let up = true;
  let paused = false;
  let refused = 0;
  const proxy = createServer((client) => {
    if (!up) {
      refused++;
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
    if (paused) for (const s of [client, upstream]) s.pause();
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const { port } = proxy.address() as AddressInfo;
  return {
    url(through: string) {
      const u = new URL(through);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      up = true;
    },
    /** A silent partition: every byte is held (no reset, no close) until `resume`. */
    pause() {
      paused = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      paused = false;
      for (const s of sockets) s.resume();
    },
    refused: () => refused,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => r());
      }),
  };
};
