import { RollcallError } from '../errors.js';
import { START, type ChangeRing } from './changeRing.js';
import type { StatusKeeper } from './status.js';
import type { Change, LiveSubscribeOptions } from './types.js';

export interface Subscriber {
  listener: (change: Change) => void;
  options: LiveSubscribeOptions;
  /** Last position delivered (or skipped as before `from`): only greater positions are delivered. */
  cursor: bigint;
  /** pending: waiting for catch-up; folding: served by a private fold from the store; live: from the ring. */
  mode: 'pending' | 'folding' | 'live';
  /** No `from` given: start after whatever position the runtime has when the subscriber starts. */
  fromNow: boolean;
  caughtUpSent: boolean;
  ended: boolean;
}

/** What a resumption (a subscriber served from before the ring) may do to its subscriber. */
export interface SubscriberOps {
  /** Delivers a change past the subscriber's cursor (a throwing listener ends the subscription). */
  deliver(sub: Subscriber, change: Change): void;
  /** Serves the subscriber from the ring once it holds everything after its cursor; false if it does not. */
  goLive(sub: Subscriber): boolean;
  /** Ends the subscription, telling `onError` when there is an error. */
  end(sub: Subscriber, error: RollcallError | null): void;
}

export interface Subscribers {
  /** `Rollcall.subscribe`. */
  subscribe(listener: (change: Change) => void, options?: LiveSubscribeOptions): () => void;
  /** The catch-up is done: starts every subscriber that waited for it. */
  startPending(): void;
  /** Hands a change just applied to every live subscriber. */
  publish(change: Change): void;
  /** Ends every subscription with `error`. */
  endAll(error: RollcallError): void;
}

/**
 * The subscriptions of a live runtime. A subscriber is served from the change ring when the ring
 * reaches back to its cursor, else by `resume` (a private fold from the store) until it does.
 */
export const createSubscribers = (deps: {
  ring: ChangeRing;
  status: StatusKeeper;
  closedError: () => RollcallError;
  resume: (sub: Subscriber, ops: SubscriberOps) => Promise<void>;
}): Subscribers => {
  const { ring, status } = deps;
  const subscribers = new Set<Subscriber>();

  const end = (sub: Subscriber, error: RollcallError | null) => {
    if (sub.ended) return;
    sub.ended = true;
    subscribers.delete(sub);
    if (error !== null) sub.options.onError?.(error);
  };

  const deliver = (sub: Subscriber, change: Change) => {
    if (sub.ended || change.position <= sub.cursor) return;
    sub.cursor = change.position;
    try {
      sub.listener(change);
    } catch (e) {
      end(sub, new RollcallError('io', `a change listener threw: ${(e as Error)?.message ?? String(e)}`, { cause: e }));
    }
  };

  const maybeCaughtUp = (sub: Subscriber) => {
    if (sub.caughtUpSent || sub.ended || sub.mode !== 'live' || !status.caughtUp) return;
    if (status.head !== null && sub.cursor < status.head) return;
    sub.caughtUpSent = true;
    sub.options.onCaughtUp?.(status.position);
  };

  const goLive = (sub: Subscriber): boolean => {
    const floor = ring.floor ?? START;
    if (sub.cursor < floor) return false;
    ring.forEachAfter(sub.cursor, (c) => deliver(sub, c));
    if (sub.ended) return true;
    sub.mode = 'live';
    maybeCaughtUp(sub);
    return true;
  };

  const ops: SubscriberOps = { deliver, goLive, end };

  const start = (sub: Subscriber) => {
    if (sub.ended) return;
    if (sub.fromNow) sub.cursor = status.position ?? START;
    if (goLive(sub)) return;
    sub.mode = 'folding';
    void deps.resume(sub, ops);
  };

  return {
    subscribe(listener, options = {}) {
      const from = options.from ?? null;
      const sub: Subscriber = { listener, options, cursor: from ?? START, mode: 'pending', fromNow: from === null, caughtUpSent: false, ended: false };
      if (status.stopped) {
        const error = status.failed ?? deps.closedError();
        queueMicrotask(() => options.onError?.(error));
        return () => undefined;
      }
      subscribers.add(sub);
      // Never call back before subscribe has returned its unsubscribe function.
      if (status.caughtUp) queueMicrotask(() => start(sub));
      return () => end(sub, null);
    },
    startPending() {
      for (const sub of [...subscribers]) if (sub.mode === 'pending') start(sub);
    },
    publish(change) {
      for (const sub of subscribers) {
        if (sub.mode !== 'live') continue;
        deliver(sub, change);
        if (!sub.caughtUpSent) maybeCaughtUp(sub);
      }
    },
    endAll(error) {
      for (const sub of [...subscribers]) end(sub, error);
    },
  };
};
