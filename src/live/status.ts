import type { RollcallError } from '../errors.js';
import type { SubscriptionStatus } from '../stores/eventStore.js';
import type { LiveStatus } from './types.js';

/**
 * Where the live runtime stands, one mutable record shared by its parts: the follower advances it,
 * subscribers and waiters read it, `status()` copies it. Availability and failure are set only
 * through its methods, which keep `lastError`, the give-up clock and `failed` consistent.
 */
export interface StatusKeeper {
  /** Position of the last event applied, null before any. */
  position: bigint | null;
  /** The store's head as last seen. */
  head: bigint | null;
  caughtUp: boolean;
  closed: boolean;
  readonly storeAvailable: boolean;
  readonly lastError: RollcallError | null;
  readonly failed: RollcallError | null;
  /** Closed, or failed for good: nothing more will be applied. */
  readonly stopped: boolean;
  /** Records that the event at `position` was applied (the head follows it when it runs ahead). */
  applied(position: bigint): void;
  setAvailable(): void;
  /** Marks the store unreachable; fails for good once it has been so for `giveUpAfterMs`. */
  setUnavailable(error: RollcallError): void;
  /** What a store's subscription reports about itself. */
  onStoreStatus(s: SubscriptionStatus): void;
  /** Stops following for good (once; not after close) and tells `onFail`. */
  fail(error: RollcallError): void;
  view(): LiveStatus;
}

export const createStatusKeeper = (options: { giveUpAfterMs?: number | undefined; onFail: (error: RollcallError) => void }): StatusKeeper => {
  let storeAvailable = true;
  let lastError: RollcallError | null = null;
  let failed: RollcallError | null = null;
  let unavailableSince: number | null = null;

  const keeper: StatusKeeper = {
    position: null,
    head: null,
    caughtUp: false,
    closed: false,
    get storeAvailable() {
      return storeAvailable;
    },
    get lastError() {
      return lastError;
    },
    get failed() {
      return failed;
    },
    get stopped() {
      return keeper.closed || failed !== null;
    },
    applied(position) {
      keeper.position = position;
      if (keeper.head === null || position > keeper.head) keeper.head = position;
    },
    setAvailable() {
      if (storeAvailable) return;
      storeAvailable = true;
      lastError = null;
      unavailableSince = null;
    },
    setUnavailable(error) {
      storeAvailable = false;
      lastError = error;
      unavailableSince ??= Date.now();
      if (options.giveUpAfterMs !== undefined && Date.now() - unavailableSince >= options.giveUpAfterMs) keeper.fail(error);
    },
    onStoreStatus(s) {
      if (s.available) keeper.setAvailable();
      else keeper.setUnavailable(s.error);
    },
    fail(error) {
      if (failed !== null || keeper.closed) return;
      failed = error;
      options.onFail(error);
    },
    view: () => ({ position: keeper.position, head: keeper.head, caughtUp: keeper.caughtUp, storeAvailable, lastError, failed }),
  };
  return keeper;
};
