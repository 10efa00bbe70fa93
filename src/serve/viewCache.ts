import type { Rollcall } from '../live/types.js';
import type { ProjectionJson } from '../projections/lifecycleView.js';

export interface CurrentView {
  view: ProjectionJson;
  /** `view` serialized once, for `GET /v1/projection`. */
  json(): string;
}

/**
 * The view of the live state, built at most once per state: the live runtime hands out a new state
 * object whenever it applies something, so identity says whether the cached view is still current.
 */
export const createViewCache = (rollcall: Rollcall): (() => CurrentView) => {
  let lastState: unknown;
  let current: CurrentView | undefined;
  return () => {
    const state = rollcall.state();
    if (current !== undefined && state === lastState) return current;
    const view = rollcall.view();
    let json: string | undefined;
    lastState = state;
    current = { view, json: () => (json ??= JSON.stringify(view)) };
    return current;
  };
};
