const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The one abortable wait of the codebase: resolves after `ms` (never, when `ms` is Infinity), or
 * at once when the signal aborts or a waker registered in `wakers` is called. It always removes
 * its abort listener, so a loop that waits many times on one long-lived signal holds one listener
 * at a time, never one per wait.
 */
export const pause = (ms: number, signal?: AbortSignal, wakers?: Set<() => void>): Promise<void> =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      wakers?.delete(done);
      resolve();
    };
    // setTimeout turns a delay over 2^31 − 1 ms (about 24.8 days) into 1 ms, and Infinity too: a
    // long wait is a chain of timers, and a wait for a waker alone sets none.
    const until = performance.now() + Math.max(0, ms);
    const arm = () => {
      const left = until - performance.now();
      timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(done, Math.max(0, left));
    };
    if (Number.isFinite(ms)) arm();
    signal?.addEventListener('abort', done, { once: true });
    wakers?.add(done);
  });

/** Calls (and forgets) every registered waker. */
export const wakeAll = (wakers: Set<() => void>): void => {
  for (const w of [...wakers]) w();
};
