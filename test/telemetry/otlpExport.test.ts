import { createServer, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, runBuilt, tempDir } from '../support/cli.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlpReceiver.js';
import { startServe } from '../support/serveProcess.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

// Whatever OTEL_* the machine running the tests has set is taken away: each test says what it sets.
const noOtel = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('OTEL_')).map((k) => [k, undefined]));
const exportTo = (receiver: OtlpReceiver, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...noOtel,
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  ...extra,
});

/** A generated fleet history (NDJSON, `events` lines) in a fresh folder; returns the folder and the file. */
const history = async (events: number, seed = 1) => {
  const dir = tempDir();
  const file = join(dir, 'history.ndjson');
  writeFileSync(file, (await cli(['generate', '--agents', '10', '--events', String(events), '--seed', String(seed)])).stdout);
  return { dir, file };
};

/** A request not answered in 20 s fails at its own line (a stalled route), not at the test's timeout. */
const answered = () => AbortSignal.timeout(20_000);

const named = (spans: ReceivedSpan[], name: string): ReceivedSpan[] => spans.filter((s) => s.name === name);
const one = (spans: ReceivedSpan[], name: string): ReceivedSpan => {
  const found = named(spans, name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(() => receiver.close());

describe('OpenTelemetry export over OTLP (http/json), to a collector started by the test', () => {
  it('append: a rollcall.append span and the append metrics, with the resource rollcall/version', async () => {
    const { dir, file } = await history(40);
    const store = `sqlite:${join(dir, 'store.db')}`;
    const r = await runBuilt(['append', '--store', store, file], { env: exportTo(receiver) });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^appended 40 event\(s\)/);
    // The CLI flushed before exiting: everything is here once the process is gone.
    const append = one(receiver.spans(), 'rollcall.append');
    expect(append).toMatchObject({
      kind: 1,
      scope: 'rollcall',
      status: 0,
      parentSpanId: undefined,
      attributes: {
        'rollcall.store.kind': 'sqlite',
        'rollcall.events.count': 40,
        'rollcall.events.appended': 40,
        'rollcall.events.duplicates': 0,
        'rollcall.position.last': 40,
      },
    });
    expect(append.resource).toMatchObject({ 'service.name': 'rollcall', 'service.version': version, 'telemetry.sdk.language': 'nodejs' });
    const points = receiver.points();
    expect(points.filter((p) => p.metric === 'rollcall.events.appended')).toEqual([
      expect.objectContaining({ scope: 'rollcall', value: 40, attributes: { 'rollcall.store.kind': 'sqlite' } }),
    ]);
    expect(points.filter((p) => p.metric === 'rollcall.append.duration')).toEqual([expect.objectContaining({ value: 1, attributes: { 'rollcall.store.kind': 'sqlite' } })]);

    // The same input again: every event a duplicate, none counted as appended.
    const before = receiver.requests.length;
    expect((await runBuilt(['append', '--store', store, file], { env: exportTo(receiver) })).code).toBe(0);
    const again = named(receiver.spans(), 'rollcall.append')[1]!;
    expect(again.attributes).toMatchObject({ 'rollcall.events.appended': 0, 'rollcall.events.duplicates': 40 });
    expect(receiver.requests.length).toBeGreaterThan(before);
    expect(receiver.points().filter((p) => p.metric === 'rollcall.events.appended')).toHaveLength(1);
  }, 60_000);

  it('serve: a server span per request (route template, status, caller trace), the append under its POST, time travel under its GET, catch-up, flushed at SIGTERM', async () => {
    const { file } = await history(30, 2);
    const serve = await startServe('memory:', { env: exportTo(receiver) });
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const callerSpan = 'b7ad6b7169203331';
    expect((await fetch(`${serve.url}v1/pools`, { signal: answered(), headers: { traceparent: `00-${traceId}-${callerSpan}-01` } })).status).toBe(200);
    const post = await fetch(`${serve.url}v1/events`, { signal: answered(), method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: readFileSync(file) });
    expect(post.status).toBe(201);
    expect((await fetch(`${serve.url}v1/agents/no-such-agent`, { signal: answered() })).status).toBe(404);
    expect((await fetch(`${serve.url}v1/projection?until=10`, { signal: answered() })).status).toBe(200);
    expect(await serve.stop()).toBe(0);

    const spans = receiver.spans();
    expect(one(spans, 'GET /v1/pools')).toMatchObject({
      kind: 2,
      traceId,
      parentSpanId: callerSpan,
      attributes: { 'http.request.method': 'GET', 'http.route': '/v1/pools', 'url.path': '/v1/pools', 'http.response.status_code': 200 },
    });
    const posted = one(spans, 'POST /v1/events');
    expect(posted).toMatchObject({ kind: 2, parentSpanId: undefined, attributes: { 'http.route': '/v1/events', 'http.response.status_code': 201 } });
    expect(posted.traceId).not.toBe(traceId);
    // The store append the POST made is its child, in its trace.
    expect(one(spans, 'rollcall.append')).toMatchObject({
      traceId: posted.traceId,
      parentSpanId: posted.spanId,
      attributes: { 'rollcall.store.kind': 'memory', 'rollcall.events.count': 30, 'rollcall.events.appended': 30 },
    });
    // The route's template names the span; the id is only in url.path.
    expect(one(spans, 'GET /v1/agents/:agentId')).toMatchObject({
      attributes: { 'http.route': '/v1/agents/:agentId', 'url.path': '/v1/agents/no-such-agent', 'http.response.status_code': 404 },
    });
    // Time travel folds under the request that asked for it.
    const travel = one(spans, 'GET /v1/projection');
    expect(named(spans, 'rollcall.replay').filter((s) => s.parentSpanId === travel.spanId)).toEqual([
      expect.objectContaining({ traceId: travel.traceId, attributes: expect.objectContaining({ 'rollcall.replay.source': 'memory', 'rollcall.replay.events': 10, 'rollcall.position.last': 10 }) }),
    ]);
    const catchUp = one(spans, 'rollcall.catchup');
    expect(catchUp.attributes).toMatchObject({ 'rollcall.store.kind': 'memory', 'rollcall.catchup.completed': true });
    expect(named(spans, 'rollcall.replay').filter((s) => s.parentSpanId === catchUp.spanId)).toHaveLength(1);

    const points = receiver.points();
    const http = points.filter((p) => p.metric === 'http.server.request.duration');
    expect(http).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ value: 1, attributes: { 'http.request.method': 'GET', 'http.route': '/v1/pools', 'http.response.status_code': 200 } }),
        expect.objectContaining({ value: 1, attributes: { 'http.request.method': 'POST', 'http.route': '/v1/events', 'http.response.status_code': 201 } }),
        expect.objectContaining({ value: 1, attributes: { 'http.request.method': 'GET', 'http.route': '/v1/agents/:agentId', 'http.response.status_code': 404 } }),
      ]),
    );
    expect(points.find((p) => p.metric === 'rollcall.catchup.duration')).toMatchObject({ value: 1, attributes: { 'rollcall.store.kind': 'memory' } });
    expect(points.find((p) => p.metric === 'rollcall.events.appended')).toMatchObject({ value: 30 });
  }, 60_000);

  it('reconcile: a rollcall.reconcile span per pass with its actions, its replay and append as children; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES apply', async () => {
    const { dir, file } = await history(300);
    const store = `sqlite:${join(dir, 'store.db')}`;
    expect((await runBuilt(['append', '--store', store, file], { env: noOtel })).code).toBe(0);
    const r = await runBuilt(['reconcile', '--store', store, '--once', '--no-pid-check', '--starting-timeout-s', '0', '--terminating-timeout-s', '0'], {
      env: exportTo(receiver, { OTEL_SERVICE_NAME: 'fleet-a', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test' }),
    });
    expect(r.code).toBe(0);
    const printed = /(\d+) corrections? appended \(([a-z-]+) \d+/.exec(r.stdout);
    expect(printed, r.stdout).not.toBeNull();
    const corrections = Number(printed![1]);
    expect(corrections).toBeGreaterThan(0);

    const spans = receiver.spans();
    const pass = one(spans, 'rollcall.reconcile');
    expect(pass.attributes).toMatchObject({
      'rollcall.store.kind': 'sqlite',
      'rollcall.reconcile.actions': corrections,
      'rollcall.reconcile.appended': corrections,
      'rollcall.reconcile.conflicts': 0,
      'rollcall.position.last': 300,
    });
    expect(pass.resource).toMatchObject({ 'service.name': 'fleet-a', 'deployment.environment.name': 'test' });
    expect(one(spans, 'rollcall.replay')).toMatchObject({ parentSpanId: pass.spanId, attributes: { 'rollcall.replay.events': 300, 'rollcall.replay.source': 'sqlite' } });
    const appends = named(spans, 'rollcall.append');
    expect(appends.length).toBeGreaterThan(0);
    expect(appends.every((s) => s.parentSpanId === pass.spanId)).toBe(true);
    expect(appends.reduce((n, s) => n + Number(s.attributes['rollcall.events.appended']), 0)).toBe(corrections);

    const points = receiver.points();
    expect(points.filter((p) => p.metric === 'rollcall.reconcile.passes')).toEqual([expect.objectContaining({ value: 1, attributes: {} })]);
    expect(points.find((p) => p.metric === 'rollcall.reconcile.corrections' && p.attributes['rollcall.reconcile.rule'] === printed![2])).toBeDefined();
    expect(points.find((p) => p.metric === 'rollcall.replay.events')).toMatchObject({ value: 300, attributes: { 'rollcall.replay.source': 'sqlite' } });
  }, 60_000);

  it('http/protobuf, the default protocol: protobuf bodies to /v1/traces and /v1/metrics', async () => {
    const { file } = await history(10);
    const r = await runBuilt(['append', '--store', 'memory:', file], { env: { ...noOtel, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } });
    expect(r.code).toBe(0);
    const traces = receiver.requests.filter((q) => q.path === '/v1/traces');
    const metrics = receiver.requests.filter((q) => q.path === '/v1/metrics');
    expect(traces.map((q) => q.contentType)).toEqual(['application/x-protobuf']);
    expect(metrics.map((q) => q.contentType)).toEqual(['application/x-protobuf']);
    // Protobuf keeps strings as their bytes.
    expect(traces[0]!.body.includes('rollcall.append')).toBe(true);
    expect(metrics[0]!.body.includes('rollcall.events.appended')).toBe(true);
  }, 60_000);

  it('a signal-specific endpoint exports that signal alone', async () => {
    const { file } = await history(10);
    const env = { ...noOtel, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.endpoint}/v1/metrics`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
    expect((await runBuilt(['append', '--store', 'memory:', file], { env })).code).toBe(0);
    expect(receiver.requests.map((q) => q.path)).toEqual(['/v1/metrics']);
    expect(receiver.points().find((p) => p.metric === 'rollcall.events.appended')).toMatchObject({ value: 10 });
  }, 60_000);
});

describe('off unless configured', () => {
  /** A preload that writes, at exit, which @opentelemetry packages the process loaded. */
  const loadedPackages = async (env: NodeJS.ProcessEnv, args: string[]): Promise<string[]> => {
    const dir = tempDir();
    const preload = join(dir, 'loaded.mjs');
    const report = join(dir, 'loaded.json');
    writeFileSync(
      preload,
      `import { createRequire } from 'node:module';\nimport { writeFileSync } from 'node:fs';\nconst require = createRequire(import.meta.url);\n` +
        `process.on('exit', () => writeFileSync(${JSON.stringify(report)}, JSON.stringify(Object.keys(require.cache))));\n`,
    );
    const r = await runBuilt(args, { env: { ...env, NODE_OPTIONS: `--import=${preload}` } });
    expect(r.code, r.stderr).toBe(0);
    const files = JSON.parse(readFileSync(report, 'utf8')) as string[];
    return [...new Set(files.map((f) => /node_modules\/(@opentelemetry\/[^/]+)\//.exec(f)?.[1]).filter((p) => p !== undefined))].sort();
  };

  it('without an endpoint, with OTEL_SDK_DISABLED=true, or with both exporters none: no SDK is loaded and nothing is sent', async () => {
    const { file } = await history(10);
    const append = ['append', '--store', 'memory:', file];
    const off: NodeJS.ProcessEnv[] = [
      { ...noOtel, OTEL_SERVICE_NAME: 'fleet-a', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
      { ...exportTo(receiver), OTEL_SDK_DISABLED: 'true' },
      { ...exportTo(receiver), OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' },
    ];
    for (const env of off) expect(await loadedPackages(env, append)).toEqual(['@opentelemetry/api']);
    expect(receiver.requests).toEqual([]);
    // The check can fail: configured, the SDK is loaded and the collector hears from it.
    const on = await loadedPackages(exportTo(receiver), append);
    expect(on).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-base', '@opentelemetry/sdk-metrics', '@opentelemetry/exporter-trace-otlp-http']));
    expect(receiver.requests.length).toBeGreaterThan(0);
  }, 60_000);

  it('an unsupported protocol or exporter is one note on stderr, and that signal is not exported', async () => {
    const { file } = await history(10);
    const r = await runBuilt(['append', '--store', 'memory:', file], {
      env: exportTo(receiver, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc', OTEL_METRICS_EXPORTER: 'prometheus' }),
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'rollcall: note: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc is not supported (http/protobuf or http/json): traces are not exported\n' +
        'rollcall: note: OTEL_METRICS_EXPORTER=prometheus is not supported (otlp or none): metrics are not exported\n',
    );
    expect(receiver.requests).toEqual([]);
  }, 60_000);

  it("OTEL_LOG_LEVEL shows the SDK's own failures (a collector that refuses), one line each, never a stack", async () => {
    const { file } = await history(10);
    const closed = receiver.endpoint;
    await receiver.close();
    const r = await runBuilt(['append', '--store', 'memory:', file], {
      env: { ...noOtel, OTEL_EXPORTER_OTLP_ENDPOINT: closed, OTEL_EXPORTER_OTLP_TIMEOUT: '500', OTEL_LOG_LEVEL: 'warn' },
    });
    expect(r.code).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^rollcall: otel: .*ECONNREFUSED/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    receiver = await startOtlpReceiver(); // for afterEach
  }, 60_000);

  it('a collector that never answers delays the exit by a bounded time only', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { file } = await history(10);
      const started = performance.now();
      // Unbounded, the export's own timeout (60 s here) would hold the process.
      const r = await runBuilt(['append', '--store', 'memory:', file], {
        env: { ...noOtel, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, OTEL_EXPORTER_OTLP_TIMEOUT: '60000' },
      });
      const seconds = (performance.now() - started) / 1000;
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^appended 10 event\(s\)/);
      expect(sockets.size).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(30);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 60_000);
});
