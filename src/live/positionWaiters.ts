import { RollcallError } from '../errors.js';
import type { StatusKeeper } from './status.js';

interface Waiter {
  position: bigint;
  resolve: () => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

export interface PositionWaiters {
  /** `Rollcall.whenCaughtUp`. */
  whenCaughtUp(): Promise<void>;
  /** `Rollcall.whenProcessed`. */
  whenProcessed(target: bigint, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  /** The catch-up is done: resolves its waiters and those whose position is reached. */
  caughtUp(): void;
  /** Resolves the waiters whose position the status has reached. */
  settle(): void;
  /** Rejects every waiter with `error` (following failed for good, or close). */
  rejectAll(error: RollcallError): void;
}

const nothingToCleanUp = (): void => undefined;

/** Promises for "caught up" and "processed up to a position", kept until the status reaches them. */
export const createPositionWaiters = (status: StatusKeeper, closedError: () => RollcallError): PositionWaiters => {
  let waiters: Waiter[] = [];
  let caughtUpWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  const settle = () => {
    const position = status.position;
    if (waiters.length === 0 || position === null) return;
    // Called after every event applied: finds the first waiter reached before making any array.
    let i = 0;
    while (i < waiters.length && waiters[i]!.position > position) i++;
    if (i === waiters.length) return;
    const done = waiters.filter((w) => w.position <= position);
    waiters = waiters.filter((w) => w.position > position);
    for (const w of done) {
      w.cleanup();
      w.resolve();
    }
  };

  return {
    settle,
    caughtUp() {
      for (const w of caughtUpWaiters) w.resolve();
      caughtUpWaiters = [];
      settle();
    },
    rejectAll(error) {
      for (const w of caughtUpWaiters) w.reject(error);
      caughtUpWaiters = [];
      for (const w of waiters) {
        w.cleanup();
        w.reject(error);
      }
      waiters = [];
    },
    whenCaughtUp() {
      if (status.caughtUp) return Promise.resolve();
      if (status.failed !== null) return Promise.reject(status.failed);
      if (status.closed) return Promise.reject(closedError());
      return new Promise((resolve, reject) => caughtUpWaiters.push({ resolve, reject }));
    },
    whenProcessed(target, waitOptions = {}) {
      if (status.position !== null && status.position >= target) return Promise.resolve();
      if (status.failed !== null) return Promise.reject(status.failed);
      if (status.closed) return Promise.reject(closedError());
      return new Promise<void>((resolve, reject) => {
        const signal = waitOptions.signal;
        if (signal?.aborted) return reject(signal.reason);
        // The common wait (an appender's, no signal, no timeout) has nothing to clean up.
        if (signal === undefined && waitOptions.timeoutMs === undefined) {
          waiters.push({ position: target, resolve, reject, cleanup: nothingToCleanUp });
          return;
        }
        let timer: NodeJS.Timeout | undefined;
        const waiter: Waiter = {
          position: target,
          resolve,
          reject,
          cleanup: () => {
            if (timer !== undefined) clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
          },
        };
        const drop = (error: unknown) => {
          waiters = waiters.filter((w) => w !== waiter);
          waiter.cleanup();
          reject(error);
        };
        const onAbort = () => drop(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        if (waitOptions.timeoutMs !== undefined) {
          timer = setTimeout(
            () => drop(new RollcallError('timeout', `position ${target} not processed within ${waitOptions.timeoutMs} ms (at ${status.position ?? 'none'})`)),
            waitOptions.timeoutMs,
          );
        }
        waiters.push(waiter);
      });
    },
  };
};
