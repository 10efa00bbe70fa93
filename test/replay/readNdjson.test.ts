import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLine } from '../../src/events/decodeEvent.js';
import { recorded, streamOf } from '../../src/events/lifecycleEvents.js';
import { textLines } from '../../src/ndjson/textLines.js';
import { createNdjsonDecoder } from '../../src/replay/readNdjson.js';
import { InvalidRecord, type ReplayItem } from '../../src/replay/replayItem.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { runs } from '../support/runs.js';

/** The reader's rule written out plainly: decodeLine per line, streamOf, a count per stream name. */
const plainly = (text: string): ReplayItem[] => {
  const revisions = new Map<string, number>();
  return textLines(text).map(({ line, text: t }, i) => {
    const result = decodeLine(t, { line });
    if (!result.success) return new InvalidRecord(result.error, BigInt(i + 1), null, null);
    const stream = streamOf(result.data);
    const revision = revisions.get(stream) ?? 0;
    revisions.set(stream, revision + 1);
    return recorded(result.data, stream, BigInt(revision), BigInt(i + 1));
  });
};

// Lines the fast path must leave to decodeLine: bad JSON, an upcast shape, an uppercase id, no id (filled at random: left out of the comparison).
const oddLine = fc.constantFrom(
  '{"type":"AgentHeartbeat"',
  '{"type":"SessionTerminated","id":"0b6f1c2e-1111-4222-8333-444455556666","data":{"agentId":"a0","sessionId":"s0","terminationReason":"done"},"metadata":{"at":"2026-11-20T10:00:00.000Z"}}',
  '{"type":"AgentHeartbeat","id":"0B6F1C2E-1111-4222-8333-44445555666A","data":{"agentId":"a1"},"metadata":{"at":"2026-11-20T10:00:00.000Z"}}',
  '{"type":"AgentHeartbeat","id":"0b6f1c2e-1111-4222-8333-44445555666b","data":{"agentId":"a1","extra":1},"metadata":{"at":"2026-11-20T10:00:00.000Z"}}',
  '{"type":"NoSuchType","data":{},"metadata":{"at":"2026-11-20T10:00:00.000Z"}}',
  '[1]',
);

describe('createNdjsonDecoder', () => {
  it('property: gives exactly the items of decodeLine + streamOf + a revision count per stream, whatever the lines', () => {
    fc.assert(
      fc.property(arbitraryHistory({ maxLength: 30 }), fc.array(fc.tuple(fc.nat(), oddLine), { maxLength: 4 }), fc.nat({ max: 5 }), (events, odd, cut) => {
        const lines = events.map((e) => JSON.stringify(e));
        for (const [at, line] of odd) lines.splice(at % (lines.length + 1), 0, line);
        const text = lines.join('\n');
        const all = textLines(text);
        // Fed in two calls, as chunks arrive: the numbering carries over.
        const decode = createNdjsonDecoder();
        const got = [...decode(all.slice(0, cut)), ...decode(all.slice(cut))];
        expect(got).toEqual(plainly(text));
      }),
      { numRuns: runs(300) },
    );
  });
});
