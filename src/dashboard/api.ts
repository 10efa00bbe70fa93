// Every request the page makes, to the server that served it (relative URLs, so the page also works
// behind a path prefix). Nothing else is ever fetched.
import type { AgentAuditJson, AgentDetailJson, AnomaliesJson, PoolExplainJson, PoolJson, PoolSlotHistoryJson, ProjectionJson, StatusJson } from '../projections/viewJson.js';

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

const atQuery = (at: TimePoint): string => (at === null ? '' : 'until' in at ? `?until=${id(at.until)}` : `?asOf=${id(at.asOf)}`);

export const api = {
  projection: (at: TimePoint = null, signal?: AbortSignal) => json<ProjectionJson>(`v1/projection${atQuery(at)}`, signal),
  pool: (poolId: string) => optional<PoolJson>(`v1/pools/${id(poolId)}`),
  agent: (agentId: string) => optional<AgentDetailJson>(`v1/agents/${id(agentId)}`),
  audit: (agentId: string, signal?: AbortSignal) => optional<AgentAuditJson>(`v1/agents/${id(agentId)}/audit`, signal),
  anomalies: () => json<AnomaliesJson>('v1/anomalies'),
  /** Why the pool is as full as it is, live or at a past moment (null: no such pool then). */
  poolExplain: (poolId: string, at: TimePoint, signal?: AbortSignal) => optional<PoolExplainJson>(`v1/pools/${id(poolId)}/explain${atQuery(at)}`, signal),
  /** Who held which slot when; the server's default range (the last hour of the log) without one. */
  poolSlots: (poolId: string, range: { from: string; to: string } | null, signal?: AbortSignal) =>
    optional<PoolSlotHistoryJson>(`v1/pools/${id(poolId)}/slots${range === null ? '' : `?from=${id(range.from)}&to=${id(range.to)}`}`, signal),
  /** `/readyz` answers 503 with the same body while catching up or cut off from the store. */
  ready: async (): Promise<StatusJson> => {
    const res = await get('readyz');
    return (await res.json()) as StatusJson;
  },
};
