import { decodeEvent } from '../../src/events/decodeEvent.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import { startServer, type StartServerOptions, type StartedServer } from '../../src/serve/startServer.js';
import type { EventStore } from '../../src/stores/eventStore.js';

/** A server on an ephemeral loopback port, its JSON responses validated against their zod schemas. */
export const serve = async (store: EventStore, options: Partial<StartServerOptions> = {}): Promise<StartedServer> => {
  const started = await startServer({ store, port: 0, validateResponses: true, ...options });
  await started.rollcall.whenCaughtUp();
  return started;
};

/** A deterministic generated fleet history, decoded. */
export const fleet = (agents: number, events: number, seed = 1): LifecycleEvent[] =>
  [...generateHistory({ agents, events, seed })].map((raw) => {
    const d = decodeEvent(raw);
    if (!d.success) throw d.error;
    return d.data;
  });

/** Objects with keys sorted (recursively), so two JSON texts can be compared byte for byte. */
export const sortKeys = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
};
export const canonical = (json: string): string => JSON.stringify(sortKeys(JSON.parse(json)));

export const getJson = async (url: string, init: RequestInit = {}) => {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body, text };
};

export const postEvents = (base: string, body: string, type = 'application/json', headers: Record<string, string> = {}) =>
  getJson(`${base}/v1/events`, { method: 'POST', body, headers: { 'content-type': type, ...headers } });
