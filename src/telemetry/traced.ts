import { INVALID_SPAN_CONTEXT, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Histogram, type Span } from '@opentelemetry/api';

export type { Attributes, Span };

/**
 * The instrumentation scope of every span and metric rollcall records (the tracer's and the
 * meter's name). Nothing here loads an SDK: without one registered (the CLI registers one only
 * when OTEL_EXPORTER_OTLP_ENDPOINT or a signal's own endpoint is set), every span is the API's
 * no-op and every instrument records nothing.
 */
export const TELEMETRY_SCOPE = 'rollcall';

// A proxy: it starts recording once an SDK registers, whenever that is.
const tracer = trace.getTracer(TELEMETRY_SCOPE);

// What the API's proxy delegates to while no SDK registered a tracer provider.
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/** Whether a tracer provider is registered now: without one every span is the API's no-op and nothing is recorded. */
export const tracesRecorded = (): boolean => {
  const provider = trace.getTracerProvider();
  return (provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider) !== NOOP_TRACER_PROVIDER;
};

/**
 * What a failure is called on a span and a metric: a RollcallError's code (`store-unavailable`),
 * else the error's class name. Never its message: a message may carry a store URL.
 */
export const errorType = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[a-z][a-z-]*$/.test(code)) return code;
  return error instanceof Error ? error.name : 'Error';
};

/** Marks a span failed with `error.type` (see {@link errorType}). */
const fail = (span: Span, type: string): void => {
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
};

/** The store's kind as its URL names it (`sqlite`, `postgres`, `esdb`, `memory`), for attributes. */
export const storeKind = (url: string): string => {
  const scheme = url.slice(0, Math.max(0, url.indexOf(':'))).toLowerCase();
  return scheme === 'postgresql' ? 'postgres' : scheme || 'unknown';
};

export interface TracedOptions {
  attributes?: Attributes;
  /** Where the time taken is recorded (seconds), with these attributes and `error.type` when `fn` threw. */
  duration?: { histogram: () => Histogram; attributes: Attributes };
  /** Told the failure's type when `fn` threw, null when it returned. */
  onEnd?: (errorType: string | null) => void;
}

/**
 * Runs `fn` inside a span named `name`, the active span while it runs (spans started inside are
 * its children). `fn` may add attributes as it learns them. A throw marks the span failed
 * (`error.type`, status ERROR) and is rethrown.
 */
export const traced = <T>(name: string, options: TracedOptions, fn: (span: Span) => Promise<T>): Promise<T> => {
  const parent = context.active();
  const span = tracer.startSpan(name, options.attributes === undefined ? {} : { attributes: options.attributes }, parent);
  const run = async () => {
    const started = performance.now();
    let failure: string | null = null;
    try {
      return await fn(span);
    } catch (error) {
      failure = errorType(error);
      fail(span, failure);
      throw error;
    } finally {
      span.end();
      const { duration } = options;
      duration?.histogram().record((performance.now() - started) / 1000, failure === null ? duration.attributes : { ...duration.attributes, 'error.type': failure });
      options.onEnd?.(failure);
    }
  };
  // A span without a valid context (no SDK registered, and no parent) changes nothing for the spans
  // started inside it when active: `fn` then runs without the context switch, most of what a no-op
  // span cost every append.
  // (The no-op tracer's span carries the API's INVALID_SPAN_CONTEXT itself: known without its hex checks.)
  const spanContext = span.spanContext();
  return spanContext !== INVALID_SPAN_CONTEXT && trace.isSpanContextValid(spanContext) ? context.with(trace.setSpan(parent, span), run) : run();
};

/** One HTTP request's server span: `run` makes it the parent of what a handler does; `end` closes it. */
export interface RequestSpan {
  run<T>(fn: () => T): T;
  /** Ends the span with the response's status (5xx marks it failed); returns the seconds it lasted. */
  end(status: number): number;
}

export interface RequestInfo {
  method: string;
  /** The route's template (`/v1/agents/:id`); undefined when no route matched. */
  route: string | undefined;
  path: string;
  /** The request's headers: a `traceparent` from the caller makes this span its child. */
  headers: Record<string, string | string[] | undefined>;
}

/** Starts the server span of one HTTP request, named and attributed as OpenTelemetry's HTTP conventions say. */
export const startRequestSpan = (request: RequestInfo): RequestSpan => {
  // From the root: a request is never the child of whatever ran when the server started listening.
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  const attributes: Attributes = { 'http.request.method': request.method, 'url.path': request.path, 'url.scheme': 'http' };
  if (request.route !== undefined) attributes['http.route'] = request.route;
  const span = tracer.startSpan(request.route === undefined ? request.method : `${request.method} ${request.route}`, { kind: SpanKind.SERVER, attributes }, parent);
  const active = trace.setSpan(parent, span);
  const started = performance.now();
  return {
    run: (fn) => context.with(active, fn),
    end(status) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) fail(span, String(status));
      span.end();
      return (performance.now() - started) / 1000;
    },
  };
};
