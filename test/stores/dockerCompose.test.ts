import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';

/*
 * The development machines have no container engine, so docker-compose.yml and the Dockerfile are
 * never run here. What can be checked is checked: the compose file is valid YAML (anchors and merge
 * keys resolved, no duplicate keys), the stores a user runs keep their data in named volumes,
 * in-memory settings exist only in the `test` profile, the cluster profile is a consistent 3-node
 * cluster, and the rollcall service and image are wired as docs/deploy.md describes.
 */

type Service = {
  image?: string;
  build?: unknown;
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  tmpfs?: string[];
  command?: string[];
  ports?: string[];
  secrets?: string[];
  depends_on?: Record<string, { condition: string }>;
  networks?: Record<string, { ipv4_address: string }>;
};

const text = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
const doc = parseDocument(text, { merge: true, uniqueKeys: true });
const compose = doc.toJS({ maxAliasCount: 100 }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
  networks: Record<string, unknown>;
};
const services = Object.entries(compose.services);
const inMemory = (s: Service): string[] => [
  ...(s.environment?.['EVENTSTORE_MEM_DB'] === 'true' ? ['EVENTSTORE_MEM_DB'] : []),
  ...(s.tmpfs?.length ? ['tmpfs'] : []),
  ...((s.command ?? []).some((c) => /^fsync=off$/.test(c)) ? ['fsync=off'] : []),
];
const namedVolumes = (s: Service): string[] =>
  (s.volumes ?? []).map((v) => v.split(':')[0]!).filter((source) => !source.startsWith('.') && !source.startsWith('/'));

describe('docker-compose.yml', () => {
  it('is valid YAML without duplicate keys', () => {
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
    expect(services.length).toBeGreaterThan(0);
  });

  it('the stores a user runs (no profile) keep their data in named, declared volumes, never in memory', () => {
    const userStores = services.filter(([, s]) => !s.profiles && /postgres|eventstore/.test(s.image ?? ''));
    expect(userStores.map(([name]) => name).sort()).toEqual(['eventstoredb', 'postgres']);
    for (const [name, s] of userStores) {
      expect(inMemory(s), name).toEqual([]);
      expect(namedVolumes(s).length, name).toBeGreaterThan(0);
      for (const v of namedVolumes(s)) expect(compose.volumes, `${name}: ${v}`).toHaveProperty(v);
    }
    expect(compose.services['postgres']!.volumes).toContain('pg-data:/var/lib/postgresql/data');
    expect(compose.services['eventstoredb']!.volumes).toContain('esdb-data:/var/lib/eventstore');
  });

  it('in-memory settings appear only in services of the test profile', () => {
    const withMemory = services.filter(([, s]) => inMemory(s).length > 0);
    expect(withMemory.map(([name]) => name).sort()).toEqual(['eventstoredb-test', 'postgres-test']);
    for (const [name, s] of withMemory) expect(s.profiles, name).toEqual(['test']);
    // And no port of a test store collides with a user store's.
    const ports = services.flatMap(([, s]) => (s.ports ?? []).map((p) => p.split(':')[0]));
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('the cluster profile is three EventStoreDB nodes that gossip with each other, each with its own volumes and advertised port', () => {
    const nodes = services.filter(([, s]) => s.profiles?.includes('cluster'));
    expect(nodes.map(([name]) => name)).toEqual(['esdb-node1', 'esdb-node2', 'esdb-node3']);
    const addresses = nodes.map(([, s]) => s.networks!['esdb-cluster']!.ipv4_address);
    expect(new Set(addresses).size).toBe(3);
    for (const [name, s] of nodes) {
      const env = s.environment!;
      expect(s.image, name).toMatch(/^eventstore\/eventstore:/);
      expect(env['EVENTSTORE_CLUSTER_SIZE'], name).toBe('3');
      expect(inMemory(s), name).toEqual([]);
      const own = s.networks!['esdb-cluster']!.ipv4_address;
      expect(env['EVENTSTORE_REPLICATION_IP'], name).toBe(own);
      const seeds = env['EVENTSTORE_GOSSIP_SEED']!.split(',').map((x) => x.replace(/:2113$/, ''));
      expect(seeds.sort(), name).toEqual(addresses.filter((a) => a !== own).sort());
      const [hostPort] = s.ports![0]!.split(':');
      expect(env['EVENTSTORE_ADVERTISE_NODE_PORT_TO_CLIENT_AS'], name).toBe(hostPort);
      expect(namedVolumes(s).length, name).toBe(2);
      for (const v of namedVolumes(s)) expect(compose.volumes, `${name}: ${v}`).toHaveProperty(v);
    }
    const all = nodes.flatMap(([, s]) => namedVolumes(s));
    expect(new Set(all).size).toBe(all.length);
  });

  it('the rollcall service builds the Dockerfile, serves on 0.0.0.0 with its token from a secret, and follows PostgreSQL', () => {
    const s = compose.services['rollcall']!;
    expect(s.build).toBe('.');
    expect(s.profiles).toEqual(['serve']);
    const command = s.command!.join(' ');
    expect(command).toMatch(/^serve --host 0\.0\.0\.0 --port 7070 --token-file \/run\/secrets\/rollcall_token$/);
    expect(s.secrets).toEqual(['rollcall_token']);
    expect(compose.secrets['rollcall_token']!.file).toMatch(/rollcall-token/);
    expect(s.environment!['ROLLCALL_STORE']).toMatch(/^postgres:\/\/rollcall:rollcall@postgres:5432\/rollcall\?max=\d+/);
    expect(s.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'));

  it('is multi-stage on node:20-slim: npm ci and the build in the first stage, only runtime files in the last', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toEqual(['FROM node:20-slim AS build', 'FROM node:20-slim']);
    const [build, runtime] = dockerfile.split(/^FROM node:20-slim$/m);
    expect(build).toMatch(/RUN npm ci && npm run build && npm prune --omit=dev/);
    expect(runtime).not.toMatch(/npm ci|COPY \. \./);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist/);
  });

  it('runs as an unprivileged user: rollcall serve on 0.0.0.0:7070', () => {
    const users = instructions.filter((l) => l.startsWith('USER '));
    expect(users).toEqual(['USER node']);
    expect(instructions.indexOf('USER node')).toBeGreaterThan(instructions.findIndex((l) => l.startsWith('RUN mkdir')));
    expect(instructions).toContain('ENTRYPOINT ["node", "dist/cli/main.js"]');
    expect(instructions).toContain('CMD ["serve", "--host", "0.0.0.0", "--port", "7070"]');
  });

  it('the files it copies exist, and .dockerignore keeps local builds and databases out of the context', () => {
    const ignore = readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '*.db', 'secrets']) expect(ignore).toContain(entry);
    expect(() => readFileSync(new URL('../../package-lock.json', import.meta.url))).not.toThrow();
  });
});
