import fastifyCompress from '@fastify/compress';
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyLogFn, type FastifyServerOptions } from 'fastify';
import { Gauge } from 'prom-client';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { isRollcallError } from '../errors.js';
import { maskUrl } from '../stores/maskUrl.js';
import type { Rollcall } from '../live/types.js';
import type { ReconcileRule } from '../reconcile/reconcileConfig.js';
import type { EventStore } from '../stores/eventStore.js';
import { registerAuth } from './auth.js';
import { changesRoute, type SseStream } from './changesRoute.js';
import { dashboardRoute, defaultDashboardDir } from './dashboardRoute.js';
import { eventsRoute } from './eventsRoute.js';
import { healthRoutes } from './healthRoutes.js';
import { sendError, sendRollcallError, shuttingDown } from './httpErrors.js';
import { createServeMetrics, metricsRoute } from './metricsRoute.js';
import { groupCommitFor } from '../ingest/groupCommit.js';
import { openapiRoutes } from './openapiRoutes.js';
import { createTraveler } from '../replay/travel.js';
import { explainRoutes } from './explainRoutes.js';
import { projectionRoutes } from './projectionRoutes.js';
import { registerRequestTelemetry } from './requestTelemetry.js';

export interface ServerOptions {
  rollcall: Rollcall;
  /** Handed to the library for appends, time travel and audits; the live view comes from `rollcall`. */
  store: EventStore;
  /** Bearer token for writes (null: writes are open; only allowed on a loopback bind). */
  token?: string | null;
  /** Bearer token for reads (healthz/readyz never need one). */
  readToken?: string | null;
  /** Fastify's logger (pino) options, or false (default) for none. */
  logger?: FastifyServerOptions['logger'];
  /** Request body limit (default 1 MiB). */
  maxBodyBytes?: number;
  /** Events in one POST (default 10,000). */
  maxEvents?: number;
  /** Request header limit (default 16 KiB; over it the request gets 431). */
  maxHeaderBytes?: number;
  /** How far ahead of the clock an event's `at` may be (default 5 minutes). */
  maxClockSkewMs?: number;
  /** SSE keep-alive comment interval (default 15 s). */
  keepAliveMs?: number;
  /** An SSE client that takes no bytes for this long while more waits for it is dropped (default 30 s). */
  sseStallMs?: number;
  /** Directory of the dashboard's built assets (default dist/dashboard). */
  dashboardDir?: string;
  /** Record undecodable stored events as anomalies in time travel and audits (as the live runtime does). */
  skipInvalid?: boolean;
  /** Serialize JSON responses through their zod schemas (tests: the OpenAPI document cannot drift from the bodies). */
  validateResponses?: boolean;
}

export interface RollcallServer {
  app: FastifyInstance;
  /** Feed the in-process reconciler's cumulative corrections into /metrics. */
  setCorrections(byRule: Readonly<Record<ReconcileRule, number>>): void;
  /** Stops accepting, ends SSE streams, waits for in-flight requests. */
  close(): Promise<void>;
}

/** Every log line goes through the one masking function on its way out: no password in the log, whatever a message carries. */
const maskedLogger = (logger: ServerOptions['logger']): NonNullable<ServerOptions['logger']> => {
  if (logger === undefined || logger === false) return false;
  const options = logger === true ? {} : logger;
  const out = (options as { stream?: { write(line: string): unknown } }).stream ?? process.stdout;
  return { ...options, stream: { write: (line: string) => out.write(maskUrl(line)) } } as NonNullable<ServerOptions['logger']>;
};

type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/**
 * A request's logger: Fastify's child of the server's logger with the request's id, made when the
 * request first writes a line at a level the logger writes (or asks for its level to change, or
 * for a child). At `--log-level warn` a request that fails in no way writes nothing, and a pino
 * child for each would cost every request its bindings' serialization. The lines are the same.
 */
class LazyRequestLogger {
  declare fatal: FastifyLogFn;
  declare error: FastifyLogFn;
  declare warn: FastifyLogFn;
  declare info: FastifyLogFn;
  declare debug: FastifyLogFn;
  declare trace: FastifyLogFn;
  #made: FastifyBaseLogger | null = null;
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;

  constructor(parent: FastifyBaseLogger, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  made(): FastifyBaseLogger {
    return (this.#made ??= this.#parent.child(this.#bindings));
  }

  /** The logger that answers for this one now (a child takes its parent's level when made). */
  current(): FastifyBaseLogger {
    return this.#made ?? this.#parent;
  }

  get level(): string {
    return this.current().level;
  }

  set level(level: string) {
    this.made().level = level;
  }

  isLevelEnabled(level: string): boolean {
    return logsAt(this.current(), level);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.made().child(bindings, options);
  }
}
for (const level of LOG_LEVELS) {
  LazyRequestLogger.prototype[level] = function (this: LazyRequestLogger, ...args: unknown[]) {
    if (logsAt(this.current(), level)) (this.made()[level] as (...a: unknown[]) => void)(...args);
  } as FastifyLogFn;
}

/** Fastify's child logger per request, made lazily (see LazyRequestLogger) unless the route sets its own level or serializers. */
const lazyChildLogger = (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger =>
  options.level !== undefined || options.serializers !== undefined ? logger.child(bindings, options) : (new LazyRequestLogger(logger, bindings) as unknown as FastifyBaseLogger);

/** Whether a logger writes lines at `level` (pino's check; a logger without one is asked to write, and decides). */
const logsAt = (log: FastifyBaseLogger, level: string): boolean => (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.(level) ?? true;

/** Whether a request's logger writes `info` lines (pino's check; Fastify's logger when disabled has none and writes nothing). */
const logsInfo = (log: FastifyBaseLogger): boolean => (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') ?? false;

/** The longest path parameter (an id) the router accepts; longer is 414. */
const MAX_PARAM_LENGTH = 500;

/** Builds the SPEC §6 HTTP server (not yet listening). */
export const createServer = async (options: ServerOptions): Promise<RollcallServer> => {
  const { rollcall, store } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const maxEvents = options.maxEvents ?? 10_000;
  const streams = new Set<SseStream>();
  const metrics = createServeMetrics(rollcall, groupCommitFor(store));

  const logger = maskedLogger(options.logger);
  const app = Fastify({
    logger,
    ...(logger !== false ? { childLoggerFactory: lazyChildLogger } : {}),
    // One line per request, written in onResponse below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: maxBodyBytes,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    http: { maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024 },
    // Answered by the onRequest hook below, in our shape, instead of Fastify's own body.
    return503OnClosing: false,
    // Errors before a request exists (oversized headers, garbage): still one JSON line, no stack.
    clientErrorHandler: (error, socket) => {
      const code = (error as { code?: string }).code;
      if (code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const [status, reason, body] =
        code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', { error: 'headers-too-large', message: `request headers over ${options.maxHeaderBytes ?? 16 * 1024} bytes` }]
          : [400, 'Bad Request', { error: 'bad-request', message: 'malformed HTTP request' }];
      const text = JSON.stringify(body);
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    },
    forceCloseConnections: 'idle',
    // The router's own refusals (a bad percent-encoding, an over-long path parameter) in our shape too.
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const path = request.url.split('?', 1)[0]!;
      const shown = path.length > 80 ? `${path.slice(0, 80)}…` : path;
      void sendError(
        reply,
        tooLong ? 414 : 400,
        tooLong ? 'uri-too-long' : 'invalid-request',
        tooLong ? `a path segment of ${shown} is over ${MAX_PARAM_LENGTH} characters` : `the path ${shown} is not valid percent-encoded UTF-8`,
      );
    },
  }).withTypeProvider<ZodTypeProvider>();
  // First, so that every route (and the not-found handler's requests) gets its server span.
  registerRequestTelemetry(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(options.validateResponses ? serializerCompiler : () => (data) => JSON.stringify(data));

  // Hooks that run on every request take a callback: an async hook costs each request a promise.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const elapsed = reply.elapsedTime;
    metrics.observeRequest(route, reply.statusCode, elapsed / 1000);
    if (logsInfo(request.log)) request.log.info({ method: request.method, url: request.url, route, status: reply.statusCode, ms: Math.round(elapsed * 100) / 100 }, 'request');
    done();
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not-found', `no route ${request.method} ${request.url.split('?', 1)[0]}`));
  app.setErrorHandler((error, request, reply) => {
    const e = error as { code?: string; statusCode?: number; validation?: unknown; message: string };
    if (e.validation !== undefined) return sendError(reply, 400, 'invalid-request', e.message);
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 413, 'too-large', `the request body is over ${maxBodyBytes} bytes`);
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return sendError(reply, 415, 'unsupported-media-type', `content type ${JSON.stringify(request.headers['content-type'] ?? '(none)')}: use application/json or application/x-ndjson`);
    }
    if (isRollcallError(error)) return sendRollcallError(reply, error);
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return sendError(reply, e.statusCode, 'bad-request', e.message);
    request.log.error({ err: { message: maskUrl(e.message), code: e.code } }, 'internal error');
    return sendError(reply, 500, 'internal', 'internal error (see the server log)');
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'rollcall',
        version: '0.1.0',
        description: 'The live lifecycle projection (pools, agents, sessions, running set) of one rollcall store, over HTTP and Server-Sent Events.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  // Bodies over 1 KiB are compressed when the client asks (Accept-Encoding: br, gzip or deflate):
  // the 50,000-event fleet's /v1/projection is 1.7 MB of JSON. SSE streams are written raw, untouched.
  await app.register(fastifyCompress, { threshold: 1024 });
  // At shutdown: a request that arrives is answered 503 at once, and a long-poll waiting for a
  // position is answered 503 instead of holding the drain for its whole wait.
  const shutdown = new AbortController();
  app.addHook('onRequest', (_request, reply, done) => {
    if (shutdown.signal.aborted) {
      shuttingDown(reply.header('connection', 'close'));
      return;
    }
    done();
  });
  registerAuth(app, { token: options.token ?? null, readToken: options.readToken ?? null });
  await app.register(healthRoutes, { rollcall });
  // Time travel and past explains fold on one thread of their own (started on the first request).
  const traveler = createTraveler({ retentionMs: rollcall.projection.retentionMs });
  app.addHook('onClose', () => traveler.close());
  await app.register(projectionRoutes, { rollcall, store, traveler, skipInvalid: options.skipInvalid ?? false, shutdown: shutdown.signal });
  await app.register(explainRoutes, { rollcall, store, traveler, skipInvalid: options.skipInvalid ?? false });
  await app.register(eventsRoute, {
    store,
    maxBodyBytes,
    maxEvents,
    maxClockSkewMs: options.maxClockSkewMs ?? 5 * 60 * 1000,
  });
  await app.register(changesRoute, {
    rollcall,
    keepAliveMs: options.keepAliveMs ?? 15_000,
    stallMs: options.sseStallMs ?? 30_000,
    streams,
    onDrop: () => metrics.sseDropped.inc(),
  });
  new Gauge({
    name: 'rollcall_sse_clients',
    help: 'Open SSE streams.',
    registers: [metrics.registry],
    collect() {
      this.set(streams.size);
    },
  });
  new Gauge({
    name: 'rollcall_sse_buffered_bytes',
    help: 'Bytes written to SSE clients that their sockets have not taken yet (a backlog streams with backpressure: this stays bounded).',
    registers: [metrics.registry],
    collect() {
      let bytes = 0;
      for (const s of streams) bytes += s.buffered();
      this.set(bytes);
    },
  });
  await app.register(metricsRoute, { metrics });
  await app.register(openapiRoutes, {
    writesNeedToken: options.token != null,
    readsNeedToken: options.readToken != null,
    maxEvents,
  });
  await app.register(dashboardRoute, { dir: options.dashboardDir ?? defaultDashboardDir });

  // Open SSE streams would keep the server from closing: end them first (clients may reconnect elsewhere).
  app.addHook('preClose', async () => {
    shutdown.abort();
    for (const s of [...streams]) s.end();
  });
  // A request in flight at shutdown would otherwise leave its keep-alive connection open after
  // answering, and the close would wait for the client to let go of it.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (shutdown.signal.aborted) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onClose', async () => metrics.close());

  return {
    app,
    setCorrections: (byRule) => metrics.setCorrections(byRule),
    close: () => app.close(),
  };
};
