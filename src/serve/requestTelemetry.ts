import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { instruments, metricsRecorded } from '../telemetry/instruments.js';
import { startRequestSpan, tracesRecorded, type RequestSpan } from '../telemetry/traced.js';

/**
 * A server span per HTTP request (`GET /v1/agents/:id`: the route's template, never the path's
 * ids, names it) and `http.server.request.duration`, as OpenTelemetry's HTTP conventions have them.
 * The span starts when the request is routed and ends when its response closes (an SSE stream's
 * span lasts as long as the stream); each route's handler runs with it active, so what a handler
 * does (a `rollcall.append`, a replay for time travel) is its child. A caller's `traceparent`
 * makes the request part of the caller's trace. Register before any route.
 *
 * Whether an SDK is registered is asked per request (one may register at any time): while none is,
 * a request costs no span, no context and no listener (they would all be no-ops); with a meter
 * provider and no tracer provider, only the duration is recorded.
 */
export const registerRequestTelemetry = (app: FastifyInstance): void => {
  const spans = new WeakMap<FastifyRequest, RequestSpan>();

  app.addHook('onRoute', (route) => {
    const handler = route.handler as (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;
    route.handler = function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const span = spans.get(request);
      return span === undefined ? handler.call(this, request, reply) : span.run(() => handler.call(this, request, reply));
    } as RouteHandlerMethod;
  });

  app.addHook('onRequest', (request, reply, done) => {
    const traces = tracesRecorded();
    if (!traces && !metricsRecorded()) {
      done();
      return;
    }
    const route = request.routeOptions.url;
    let span: RequestSpan | null = null;
    let started = 0;
    if (traces) {
      span = startRequestSpan({ method: request.method, route, path: request.url.split('?', 1)[0]!, headers: request.headers });
      spans.set(request, span);
    } else started = performance.now();
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      const seconds = span === null ? (performance.now() - started) / 1000 : span.end(status);
      instruments().httpRequestDuration.record(seconds, {
        'http.request.method': request.method,
        'http.response.status_code': status,
        ...(route !== undefined ? { 'http.route': route } : {}),
      });
    });
    done();
  });
};
