import type { Rollcall } from '../live/types.js';
import type { ProjectionJson } from '../projections/lifecycleView.js';

export interface CurrentView {
  view: ProjectionJson;
  /** `view` serialized once, for `GET /v1/projection`. */
  json(): string;
}

/**
 * The live view with its JSON text, serialized at most once per view: the runtime builds a view
 * once per position and hands out the same object until the position moves.
 */
export const createViewCache = (rollcall: Rollcall): (() => CurrentView) => {
  let current: CurrentView | undefined;
  return () => {
    const view = rollcall.view();
    if (current !== undefined && current.view === view) return current;
    let json: string | undefined;
    current = { view, json: () => (json ??= JSON.stringify(view)) };
    return current;
  };
};
