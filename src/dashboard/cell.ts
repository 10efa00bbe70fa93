import { useEffect, useReducer } from 'preact/hooks';

/** A value the page watches: components re-render only for the cells they read. */
export interface Cell<T> {
  get(): T;
  set(value: T): void;
  subscribe(listener: () => void): () => void;
}

export const cell = <T>(initial: T): Cell<T> => {
  let value = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    set(next) {
      if (Object.is(next, value)) return;
      value = next;
      for (const l of [...listeners]) l();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
};

/** Reads a cell and re-renders the calling component when it changes. */
export const useCell = <T>(c: Cell<T>): T => {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  const value = c.get();
  useEffect(() => {
    const off = c.subscribe(() => bump(0));
    // It may have changed between this render and the subscription.
    if (!Object.is(c.get(), value)) bump(0);
    return off;
  }, [c]);
  return value;
};
