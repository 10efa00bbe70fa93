import type { SimAgent } from './fleetModel.js';
import type { GeneratedEvent } from './generatedEvent.js';
import type { MessRates } from './generateOptions.js';
import type { Random } from './random.js';

/**
 * Deliveries owed to the log (duplicates and late events), ordered by the step they are due, and
 * the events an agent holds back until its next spawn.
 */
export interface Deliveries {
  /** Events emitted so far. */
  readonly step: number;
  schedule(event: GeneratedEvent, delay: number): void;
  /** The next owed delivery if it is due now (it is then taken off the queue). */
  takeDue(): GeneratedEvent | undefined;
  /** Counts one emitted event. */
  advance(): void;
  /** Keeps an event back until the agent's next spawn; the oldest of more than four goes out anyway. */
  hold(a: SimAgent, event: GeneratedEvent): void;
  /** The agent's held events go out over the next few steps. */
  release(a: SimAgent): void;
  /** An end that reaches the log late (then null: meanwhile the log still shows the session live). */
  maybeLate(a: SimAgent, event: GeneratedEvent): GeneratedEvent | null;
}

type Queued = { step: number; event: GeneratedEvent };

export const createDeliveries = (rng: Random, rates: MessRates): Deliveries => {
  const queue: Queued[] = [];
  let step = 0;
  const schedule = (event: GeneratedEvent, delay: number): void => {
    const due = step + delay;
    let i = queue.length;
    while (i > 0 && (queue[i - 1] as Queued).step > due) i--;
    queue.splice(i, 0, { step: due, event });
  };
  const hold = (a: SimAgent, event: GeneratedEvent): void => {
    const oldest = a.held.length >= 4 ? a.held.shift() : undefined;
    if (oldest !== undefined) schedule(oldest, rng.int(1, 6));
    a.held.push(event);
  };
  return {
    get step() {
      return step;
    },
    schedule,
    takeDue() {
      const due = queue[0];
      if (due === undefined || due.step > step) return undefined;
      queue.shift();
      return due.event;
    },
    advance() {
      step++;
    },
    hold,
    release(a) {
      for (const event of a.held) schedule(event, rng.int(1, 8));
      a.held.length = 0;
    },
    maybeLate(a, event) {
      if (!rng.chance(rates.late)) return event;
      hold(a, event);
      return null;
    },
  };
};
