// Time travel: the whole page as of an earlier position or time, from /v1/projection?until|asOf.
// The live view keeps following underneath, so going back to live is instant.
import { api, type TimePoint } from './api.js';
import { cell } from './cell.js';
import { fromProjection, type ViewModel } from './model.js';

export const travelPoint = cell<TimePoint>(null);
export const travelView = cell<ViewModel | null>(null);
export const travelError = cell<string | null>(null);
export const travelLoading = cell(false);

let inFlight: AbortController | null = null;

export const travelTo = async (point: TimePoint): Promise<void> => {
  inFlight?.abort();
  travelPoint.set(point);
  writeHash();
  if (point === null) {
    travelView.set(null);
    travelError.set(null);
    travelLoading.set(false);
    return;
  }
  const ctrl = (inFlight = new AbortController());
  travelLoading.set(true);
  try {
    const p = await api.projection(point, ctrl.signal);
    if (ctrl.signal.aborted) return;
    travelView.set(fromProjection(p));
    travelError.set(null);
  } catch (e) {
    if (ctrl.signal.aborted) return;
    travelError.set(e instanceof Error ? e.message : String(e));
  } finally {
    if (!ctrl.signal.aborted) travelLoading.set(false);
  }
};

// The address keeps what is on screen (#until=P or #asOf=T, &agent=ID, &pool=ID), so a view can be shared.
export const openAgentId = cell<string | null>(null);
export const openPoolId = cell<string | null>(null);

export const writeHash = () => {
  const params = new URLSearchParams();
  const point = travelPoint.get();
  if (point !== null) {
    if ('until' in point) params.set('until', point.until);
    else params.set('asOf', point.asOf);
  }
  const agent = openAgentId.get();
  if (agent !== null) params.set('agent', agent);
  const pool = openPoolId.get();
  if (pool !== null) params.set('pool', pool);
  const hash = params.toString();
  history.replaceState(null, '', hash === '' ? location.pathname + location.search : `#${hash}`);
};

export const readHash = (): { point: TimePoint; agent: string | null; pool: string | null } => {
  const params = new URLSearchParams(location.hash.slice(1));
  const until = params.get('until');
  const asOf = params.get('asOf');
  return {
    point: until !== null ? { until } : asOf !== null ? { asOf } : null,
    agent: params.get('agent'),
    pool: params.get('pool'),
  };
};
