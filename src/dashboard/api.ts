// Every request the page makes, to the server that served it (relative URLs, so the page also works
// behind a path prefix). Nothing else is ever fetched.
import type { AgentAuditJson, AgentDetailJson, AnomaliesJson, PoolJson, ProjectionJson, StatusJson } from '../projections/viewJson.js';

/** An HTTP answer other than 2xx, with the server's `{error, message}` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const get = async (path: string, signal?: AbortSignal): Promise<Response> =>
  fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store', ...(signal ? { signal } : {}) });

const json = async <T>(path: string, signal?: AbortSignal): Promise<T> => {
  const res = await get(path, signal);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { message?: string; error?: string };
      message = body.message ?? body.error ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
};

/** Null when the server answers 404 (the entity left the view). */
const optional = async <T>(path: string, signal?: AbortSignal): Promise<T | null> => {
  try {
    return await json<T>(path, signal);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
};

const id = encodeURIComponent;

export type TimePoint = { until: string } | { asOf: string } | null;

export const api = {
  projection: (at: TimePoint = null, signal?: AbortSignal) =>
    json<ProjectionJson>(
      at === null ? 'v1/projection' : 'until' in at ? `v1/projection?until=${id(at.until)}` : `v1/projection?asOf=${id(at.asOf)}`,
      signal,
    ),
  pool: (poolId: string) => optional<PoolJson>(`v1/pools/${id(poolId)}`),
  agent: (agentId: string) => optional<AgentDetailJson>(`v1/agents/${id(agentId)}`),
  audit: (agentId: string, signal?: AbortSignal) => optional<AgentAuditJson>(`v1/agents/${id(agentId)}/audit`, signal),
  anomalies: () => json<AnomaliesJson>('v1/anomalies'),
  /** `/readyz` answers 503 with the same body while catching up or cut off from the store. */
  ready: async (): Promise<StatusJson> => {
    const res = await get('readyz');
    return (await res.json()) as StatusJson;
  },
};
