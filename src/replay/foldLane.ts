/**
 * Shares the event loop between folds that serve requests (time travel, audits, resuming
 * subscribers) and everything else the process does (health checks, appends, live changes).
 *
 * A fold calls `pace()` between small chunks of work. Within one turn of the event loop the lane
 * lets work run for at most `sliceMs` (all folds together); past that, a fold waits for a later
 * turn, and the lane wakes one waiter per turn, in order. So however many folds run at once, a
 * request arriving meanwhile waits at most about one slice, and the folds share the rest fairly.
 */
export interface FoldLane {
  /** Resolves at once while the current turn has time left, else on a later turn (FIFO). */
  pace(): Promise<void>;
  /** Folds waiting for a turn (for metrics and tests). */
  readonly waiting: number;
}

export const createFoldLane = (sliceMs = 8): FoldLane => {
  const queue: Array<() => void> = [];
  let turnStart = -Infinity;
  let scheduled = false;

  const tick = () => {
    scheduled = false;
    turnStart = performance.now();
    queue.shift()?.();
    // setImmediate from inside the check phase runs on the next loop turn: one waiter per turn,
    // with timers, I/O and requests served in between.
    if (queue.length > 0) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(tick);
  };

  return {
    pace() {
      if (queue.length === 0 && performance.now() - turnStart < sliceMs) return Promise.resolve();
      return new Promise<void>((resolve) => {
        queue.push(resolve);
        schedule();
      });
    },
    get waiting() {
      return queue.length;
    },
  };
};

/** The process's lane: every fold that serves a request shares it. */
export const sharedFoldLane: FoldLane = createFoldLane();

/** Passes a source's chunks through, pacing each on the lane before it is handed on (and so folded). */
export async function* paced<T>(source: AsyncIterable<T> | Iterable<T>, lane: FoldLane = sharedFoldLane): AsyncGenerator<T> {
  for await (const chunk of source) {
    await lane.pace();
    yield chunk;
  }
}
