/**
 * The one abortable wait of the codebase: resolves after `ms` (never, when `ms` is Infinity), or
 * at once when the signal aborts or a waker registered in `wakers` is called. It always removes
 * its abort listener, so a loop that waits many times on one long-lived signal holds one listener
 * at a time, never one per wait.
 */
export const pause = (ms: number, signal?: AbortSignal, wakers?: Set<() => void>): Promise<void> =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      wakers?.delete(done);
      resolve();
    };
    // setTimeout treats Infinity as 1 ms: a wait for a waker alone sets no timer.
    const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined;
    signal?.addEventListener('abort', done, { once: true });
    wakers?.add(done);
  });

/** Calls (and forgets) every registered waker. */
export const wakeAll = (wakers: Set<() => void>): void => {
  for (const w of [...wakers]) w();
};
