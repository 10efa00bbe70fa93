import { describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import { asRollcallError, retryWhileUnavailable } from '../../src/live/retry.js';
import { createStatusKeeper } from '../../src/live/status.js';

const keeper = (giveUpAfterMs?: number) => {
  const failures: RollcallError[] = [];
  const status = createStatusKeeper({ giveUpAfterMs, onFail: (e) => failures.push(e) });
  return { status, failures };
};

describe('the live runtime’s one retry loop', () => {
  it('retries while the store is unavailable, marking it so, until the attempt is done', async () => {
    const { status, failures } = keeper();
    const seen: boolean[] = [];
    let calls = 0;
    await retryWhileUnavailable(
      async () => {
        seen.push(status.storeAvailable);
        if (++calls < 3) throw new Error('ECONNREFUSED');
        status.setAvailable();
        return true;
      },
      { doing: 'store: catch-up', status, signal: new AbortController().signal },
    );
    expect(calls).toBe(3);
    expect(seen).toEqual([true, false, false]);
    expect(status.view()).toMatchObject({ storeAvailable: true, lastError: null, failed: null });
    expect(failures).toEqual([]);
  });

  it('throws any other error at once, without marking the store unavailable', async () => {
    const { status } = keeper();
    const bad = new RollcallError('invalid-event', 'position 3 is not a valid event');
    await expect(retryWhileUnavailable(async () => Promise.reject(bad), { doing: 'x', status, signal: new AbortController().signal })).rejects.toBe(bad);
    expect(status.storeAvailable).toBe(true);
  });

  it('gives up for good once the store has been unavailable for giveUpAfterMs, telling onFail once', async () => {
    const { status, failures } = keeper(0);
    let calls = 0;
    await retryWhileUnavailable(
      async () => {
        calls++;
        throw new Error('ECONNREFUSED');
      },
      { doing: 'store: follow', status, signal: new AbortController().signal },
    );
    expect(calls).toBe(1);
    expect(failures.map((e) => [e.code, e.message])).toEqual([['store-unavailable', 'store: follow: ECONNREFUSED']]);
    expect(status.stopped).toBe(true);
  });

  it('a resubscription after a clean end runs beforeRetry; after close nothing is attempted', async () => {
    const { status } = keeper();
    const controller = new AbortController();
    let retries = 0;
    await retryWhileUnavailable(
      async (progressed) => {
        progressed();
        return false;
      },
      {
        doing: 'x',
        status,
        signal: controller.signal,
        beforeRetry: async () => {
          if (++retries === 2) {
            status.closed = true;
            controller.abort();
          }
        },
      },
    );
    expect(retries).toBe(2);
    // Once closed, nothing more is attempted.
    let after = 0;
    await retryWhileUnavailable(async () => (after++, true), { doing: 'x', status, signal: controller.signal });
    expect(after).toBe(0);
  });

  it('asRollcallError keeps ours and makes anything else store-unavailable, naming what was being done', () => {
    const ours = new RollcallError('timeout', 't');
    expect(asRollcallError(ours, 'x')).toBe(ours);
    expect(asRollcallError(new Error('boom'), 'db: follow')).toMatchObject({ code: 'store-unavailable', message: 'db: follow: boom' });
  });
});
