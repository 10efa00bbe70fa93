import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendEvents } from '../../src/ingest/appendEvents.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import type { StoredEvent } from '../../src/stores/eventStore.js';
import { cli, dumpSqlite, tempDir } from '../support/cli.js';

// For any sequence of valid and invalid lines, cut into chunks of any size: either every valid
// line is appended, in order, or (when any line is invalid) nothing is.

const at = '2026-11-20T10:00:00.000Z';
const idOf = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

type Line = { valid: true; bytes: Buffer; type: string; data: Record<string, unknown> } | { valid: false; bytes: Buffer } | { blank: true; bytes: Buffer };

const validLine = fc
  .record({
    kind: fc.constantFrom('AgentHeartbeat', 'AgentRegistered'),
    agent: fc.constantFrom('a1', 'ü-2', '😀', 'agent-三'),
    withId: fc.boolean(),
    name: fc.string({ unit: 'grapheme', maxLength: 6 }),
  })
  .map(({ kind, agent, withId, name }) => (n: number): Line => {
    const data = kind === 'AgentHeartbeat' ? { agentId: agent } : { agentId: agent, role: 'worker', name };
    const event = { ...(withId ? { id: idOf(n) } : {}), type: kind, data, metadata: { at } };
    return { valid: true, bytes: Buffer.from(JSON.stringify(event)), type: kind, data };
  });

const invalidLine = fc.constantFrom(
  () => Buffer.from('{"type": "AgentHeartbeat", '),
  () => Buffer.from(JSON.stringify({ type: 'AgentTeleported', data: {}, metadata: { at } })),
  () => Buffer.from(JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a\u0000' }, metadata: { at } })),
  () => Buffer.from(`{"type":"AgentHeartbeat","data":{"agentId":"\\udfff"},"metadata":{"at":"${at}"}}`),
  () => Buffer.concat([Buffer.from('{"type":"AgentHeartbeat","data":{"agentId":"'), Buffer.from([0xe2, 0x28, 0xa1]), Buffer.from(`"},"metadata":{"at":"${at}"}}`)]),
  () => Buffer.from(JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a1' }, metadata: { at: '2999-01-01T00:00:00Z' } })),
  () => Buffer.from(JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a1' }, extra: true, metadata: { at } })),
);

const line = fc.oneof(
  { weight: 6, arbitrary: validLine },
  { weight: 1, arbitrary: invalidLine.map((make) => (): Line => ({ valid: false, bytes: make() })) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '\r').map((b) => (): Line => ({ blank: true, bytes: Buffer.from(b) })) },
);

const input = fc.record({
  makers: fc.array(line, { maxLength: 40 }),
  crlf: fc.boolean(),
  finalNewline: fc.boolean(),
  chunkSize: fc.integer({ min: 1, max: 300 }),
});

const build = ({ makers, crlf, finalNewline }: { makers: Array<(n: number) => Line>; crlf: boolean; finalNewline: boolean }) => {
  const lines = makers.map((make, i) => make(i));
  const sep = Buffer.from(crlf ? '\r\n' : '\n');
  const parts: Buffer[] = [];
  lines.forEach((l, i) => {
    parts.push(l.bytes);
    if (i < lines.length - 1 || finalNewline) parts.push(sep);
  });
  return { lines, bytes: Buffer.concat(parts) };
};

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const readAll = async (store: { readAll(): AsyncIterable<StoredEvent> }) => {
  const out: StoredEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
};

describe('append is all or nothing, whatever the lines and the chunk size', () => {
  it('appendEvents over a byte stream cut anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(input, async (spec) => {
        const { lines, bytes } = build(spec);
        const store = openMemoryStore();
        const result = await appendEvents(store, chunked(bytes, spec.chunkSize));
        const stored = await readAll(store);
        const firstInvalid = lines.findIndex((l) => 'valid' in l && !l.valid);
        if (firstInvalid >= 0) {
          expect(result.success).toBe(false);
          expect(!result.success && result.error.line).toBe(firstInvalid + 1);
          expect(stored).toEqual([]);
        } else {
          const valid = lines.filter((l): l is Extract<Line, { valid: true }> => 'valid' in l && l.valid);
          expect(result.success).toBe(true);
          expect(stored.map((e) => [e.type, e.data])).toEqual(valid.map((l) => [l.type, l.data]));
          expect(result.success && result.data.appended).toBe(valid.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rollcall append --chunk-bytes N on sqlite: the same file or nothing', async () => {
    await fc.assert(
      fc.asyncProperty(input, async (spec) => {
        const { lines, bytes } = build(spec);
        const dir = tempDir();
        const file = join(dir, 'in.ndjson');
        writeFileSync(file, bytes);
        const path = join(dir, 's.db');
        const r = await cli(['append', '--store', `sqlite:${path}`, '--chunk-bytes', String(spec.chunkSize), file]);
        const firstInvalid = lines.findIndex((l) => 'valid' in l && !l.valid);
        const valid = lines.filter((l): l is Extract<Line, { valid: true }> => 'valid' in l && l.valid);
        if (firstInvalid >= 0) {
          expect(r.code).toBe(2);
          expect(r.stderr).toMatch(new RegExp(`^rollcall: line ${firstInvalid + 1}: `));
          expect(dumpSqlite(path)).toBe('absent');
        } else {
          expect(r.code).toBe(0);
          const events = valid.length ? JSON.parse(dumpSqlite(path)).events : [];
          expect(events.map((e: unknown[]) => [e[4], JSON.parse(e[5] as string)])).toEqual(valid.map((l) => [l.type, l.data]));
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
