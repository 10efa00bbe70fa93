import { instruments } from '../telemetry/instruments.js';
import { storeKind, traced, type Attributes, type Span } from '../telemetry/traced.js';
import type { AppendResult, GroupOutcome } from './eventStore.js';
import type { StoreParts } from './assembleStore.js';

/**
 * A store's parts with every append (batch, stream, group commit) in a `rollcall.append` span,
 * counted in `rollcall.events.appended` and timed in `rollcall.append.duration`: written once here
 * for every adapter, since every store is assembled by `assembleStore`.
 */
export const tracedAppends = (parts: StoreParts): StoreParts => {
  /** No attributes beyond the common ones: spares a spread into a new object on every batch append. */
  const NO_ATTRIBUTES: Attributes = {};
  const kind = storeKind(parts.url);
  const metricAttributes: Attributes = { 'rollcall.store.kind': kind };

  const append = <R>(method: string, events: number, extra: Attributes, write: () => Promise<R>, written: (result: R) => AppendResult) =>
    traced(
      'rollcall.append',
      {
        attributes: extra === NO_ATTRIBUTES ? { 'rollcall.store.kind': kind, 'rollcall.append.method': method, 'rollcall.events.count': events } : { 'rollcall.store.kind': kind, 'rollcall.append.method': method, 'rollcall.events.count': events, ...extra },
        duration: { histogram: () => instruments().appendDuration, attributes: metricAttributes },
      },
      async (span: Span) => {
        const result = await write();
        const { appended, duplicates, lastPosition } = written(result);
        if (span.isRecording()) {
          span.setAttributes({ 'rollcall.events.appended': appended, 'rollcall.events.duplicates': duplicates });
          if (lastPosition !== null) span.setAttribute('rollcall.position.last', Number(lastPosition));
        }
        if (appended > 0) instruments().eventsAppended.add(appended, metricAttributes);
        return result;
      },
    );

  const { appendGroup } = parts;
  return {
    ...parts,
    appendBatch: (events) => append('batch', events.length, NO_ATTRIBUTES, () => parts.appendBatch(events), (r) => r),
    appendToStream: (stream, events, options) =>
      append('stream', events.length, { 'rollcall.stream': stream }, () => parts.appendToStream(stream, events, options), (r) => r),
    ...(appendGroup === undefined
      ? {}
      : {
          appendGroup: (requests) =>
            append(
              'group',
              requests.reduce((n, r) => n + r.events.length, 0),
              { 'rollcall.append.requests': requests.length },
              () => appendGroup(requests),
              (outcomes: GroupOutcome[]) => {
                const sum: AppendResult = { appended: 0, duplicates: 0, lastPosition: null };
                for (const o of outcomes) {
                  if (!o.success) continue;
                  sum.appended += o.data.appended;
                  sum.duplicates += o.data.duplicates;
                  sum.lastPosition = o.data.lastPosition ?? sum.lastPosition;
                }
                return sum;
              },
            ),
        }),
  };
};
