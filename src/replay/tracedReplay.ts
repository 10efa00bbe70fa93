import { instruments } from '../telemetry/instruments.js';
import { traced, type Span } from '../telemetry/traced.js';
import type { FoldResult } from './foldEvents.js';

/**
 * A replay in a `rollcall.replay` span (its events and where it stopped as attributes), counted in
 * `rollcall.replay.events` and timed in `rollcall.replay.duration`, by source (a store kind or `file`).
 */
export const tracedReplay = <R extends FoldResult<unknown>>(source: string, run: (span: Span) => Promise<R>): Promise<R> => {
  const metricAttributes = { 'rollcall.replay.source': source };
  return traced(
    'rollcall.replay',
    {
      attributes: metricAttributes,
      duration: { histogram: () => instruments().replayDuration, attributes: metricAttributes },
    },
    async (span) => {
      const result = await run(span);
      span.setAttributes({ 'rollcall.replay.events': result.processed, 'rollcall.replay.stopped_early': result.stoppedEarly });
      if (result.lastPosition !== null) span.setAttribute('rollcall.position.last', Number(result.lastPosition));
      instruments().replayEvents.add(result.processed, metricAttributes);
      return result;
    },
  );
};
