import type { Command } from './command.js';

/** A subcommand as `rollcall --help` lists it; its module loads only when it runs (fast start). */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** Every subcommand, in the order `rollcall --help` lists them. */
export const commands: readonly CommandEntry[] = [
  {
    name: 'replay',
    summary: 'rebuild the projection from the log and print it',
    load: async () => (await import('./replay.js')).replayCommand,
  },
  {
    name: 'append',
    summary: 'validate every line of an NDJSON file, then append them in line order',
    load: async () => (await import('./append.js')).appendCommand,
  },
  {
    name: 'audit',
    summary: "an agent's lifecycle timeline: each event, the change it caused, and the anomalies",
    load: async () => (await import('./audit.js')).auditCommand,
  },
  {
    name: 'explain',
    summary: 'why a pool is full or an agent counted: who holds each slot, since when, and what would free it',
    load: async () => (await import('./explain.js')).explainCommand,
  },
  {
    name: 'check',
    summary: 'replay the log and check the invariants on every prefix; exit 1 on any violation',
    load: async () => (await import('./check.js')).checkCommand,
  },
  {
    name: 'generate',
    summary: 'write a deterministic, realistic fleet history as NDJSON on stdout',
    load: async () => (await import('./generate.js')).generateCommand,
  },
  {
    name: 'watch',
    summary: 'catch up, then follow the store live: one NDJSON line per event applied',
    load: async () => (await import('./watch.js')).watchCommand,
  },
  {
    name: 'serve',
    summary: 'serve the live projection over HTTP, Server-Sent Events and Prometheus metrics',
    load: async () => (await import('./serve.js')).serveCommand,
  },
  {
    name: 'reconcile',
    summary: 'correct the log against reality (dead pids, stuck sessions, vanished agents); pids are checked on this host',
    load: async () => (await import('./reconcile.js')).reconcileCommand,
  },
  {
    name: 'demo',
    summary: 'the main job on the embedded store: seed it with a generated fleet if it is empty, then replay it',
    load: async () => (await import('./demo.js')).demoCommand,
  },
  {
    name: 'schema',
    summary: 'print the JSON Schema (draft 2020-12) of the event envelope and catalog',
    load: async () => (await import('./schema.js')).schemaCommand,
  },
  {
    name: 'version',
    summary: "print rollcall's version (also --version)",
    load: async () => (await import('./version.js')).versionCommand,
  },
];
