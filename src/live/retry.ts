import { RollcallError, isRollcallError } from '../errors.js';
import { pause } from '../stores/pause.js';
import type { StatusKeeper } from './status.js';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

/** A store's failure as a RollcallError: ours pass through, anything else is the store being unavailable. */
export const asRollcallError = (e: unknown, doing: string): RollcallError =>
  isRollcallError(e) ? e : new RollcallError('store-unavailable', `${doing}: ${(e as Error)?.message ?? String(e)}`, { cause: e });

/**
 * The live runtime's one retry loop (catch-up and follow): runs `attempt` until it reports that it
 * is done (true), or the runtime stops. A `store-unavailable` error marks the store unavailable
 * (which may fail the runtime for good, see `giveUpAfterMs`) and is retried; any other error is
 * thrown. Between attempts it pauses, 100 ms doubling to 5 s, cut short by `signal` (close);
 * `progressed()` (called by the attempt) starts the delays over; `beforeRetry` runs after each pause.
 */
export const retryWhileUnavailable = async (
  attempt: (progressed: () => void) => Promise<boolean>,
  options: { doing: string; status: StatusKeeper; signal: AbortSignal; beforeRetry?: () => Promise<void> },
): Promise<void> => {
  const { status } = options;
  let delay = FIRST_DELAY_MS;
  const progressed = () => {
    delay = FIRST_DELAY_MS;
  };
  while (!status.stopped) {
    try {
      if (await attempt(progressed)) return;
    } catch (e) {
      if (status.closed) return;
      const error = asRollcallError(e, options.doing);
      if (error.code !== 'store-unavailable') throw error;
      status.setUnavailable(error);
      if (status.failed !== null) return;
    }
    await pause(delay, options.signal);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
    await options.beforeRetry?.();
  }
};
