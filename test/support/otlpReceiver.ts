import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OTLP/JSON attribute value, as `http/json` exporters write it. */
type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };

const plain = (value: AnyValue): string | number | boolean | undefined =>
  value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.doubleValue ?? value.boolValue;

const attributesOf = (list: KeyValue[] | undefined): Record<string, string | number | boolean | undefined> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, plain(kv.value)]));

export interface ReceivedSpan {
  name: string;
  /** OTLP's numbering: 1 internal, 2 server. */
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  /** 0 unset, 1 ok, 2 error. */
  status: number;
  attributes: Record<string, string | number | boolean | undefined>;
  resource: Record<string, string | number | boolean | undefined>;
  scope: string;
}

export interface ReceivedPoint {
  metric: string;
  scope: string;
  attributes: Record<string, string | number | boolean | undefined>;
  /** A sum's value, or a histogram's count. */
  value: number;
  resource: Record<string, string | number | boolean | undefined>;
}

export interface OtlpRequest {
  path: string;
  contentType: string;
  body: Buffer;
}

export interface OtlpReceiver {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT is set to, e.g. http://127.0.0.1:40123. */
  endpoint: string;
  requests: OtlpRequest[];
  /** Every span of every JSON export received so far. */
  spans(): ReceivedSpan[];
  /** Every data point of every JSON metric export received so far. */
  points(): ReceivedPoint[];
  close(): Promise<void>;
}

/**
 * A local OTLP/HTTP collector for tests: accepts POST /v1/traces and /v1/metrics on 127.0.0.1 (an
 * ephemeral port), answers 200 `{}`, and keeps every request. Bodies sent with `http/json` are
 * decoded into spans and metric points; `http/protobuf` bodies are kept as bytes.
 */
export const startOtlpReceiver = async (): Promise<OtlpReceiver> => {
  const requests: OtlpRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      const known = req.method === 'POST' && (req.url === '/v1/traces' || req.url === '/v1/metrics');
      res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const json = (path: string) =>
    requests.filter((r) => r.path === path && r.contentType.includes('json')).map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>);
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    spans: () =>
      json('/v1/traces').flatMap((body) =>
        (body['resourceSpans'] as Array<{ resource: { attributes: KeyValue[] }; scopeSpans: Array<{ scope: { name: string }; spans: Array<Record<string, unknown>> }> }>).flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) =>
            ss.spans.map((s) => ({
              name: s['name'] as string,
              kind: s['kind'] as number,
              traceId: s['traceId'] as string,
              spanId: s['spanId'] as string,
              parentSpanId: (s['parentSpanId'] as string | undefined) || undefined,
              status: ((s['status'] as { code?: number } | undefined)?.code ?? 0),
              attributes: attributesOf(s['attributes'] as KeyValue[]),
              resource: attributesOf(rs.resource.attributes),
              scope: ss.scope.name,
            })),
          ),
        ),
      ),
    points: () =>
      json('/v1/metrics').flatMap((body) =>
        (body['resourceMetrics'] as Array<{ resource: { attributes: KeyValue[] }; scopeMetrics: Array<{ scope: { name: string }; metrics: Array<Record<string, unknown>> }> }>).flatMap((rm) =>
          rm.scopeMetrics.flatMap((sm) =>
            sm.metrics.flatMap((m) => {
              const data = (m['sum'] ?? m['histogram'] ?? m['gauge']) as { dataPoints: Array<Record<string, unknown>> };
              return data.dataPoints.map((p) => ({
                metric: m['name'] as string,
                scope: sm.scope.name,
                attributes: attributesOf(p['attributes'] as KeyValue[]),
                value: Number(p['asInt'] ?? p['asDouble'] ?? p['count']),
                resource: attributesOf(rm.resource.attributes),
              }));
            }),
          ),
        ),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
