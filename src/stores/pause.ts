/**
 * Resolves after `ms`, or earlier when the signal aborts or `wake` is called: the wait of a
 * polling subscription, which must end at once on abort and start reading at once on a local append.
 */
export const pause = (ms: number, signal: AbortSignal | undefined, wakers: Set<() => void>): Promise<void> =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      wakers.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    wakers.add(done);
  });

/** Calls (and forgets) every registered waker. */
export const wakeAll = (wakers: Set<() => void>): void => {
  for (const w of [...wakers]) w();
};
