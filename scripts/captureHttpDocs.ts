// docs/http.md's examples, captured from exactly what `npm start` serves, so that they cannot drift.
//
//   node --import tsx scripts/captureHttpDocs.ts          rewrites the examples in docs/http.md
//   node --import tsx scripts/captureHttpDocs.ts --check  exit 1 with a diff if docs/http.md differs
//
// It runs package.json's `start` command (`serve --seed`, the built CLI: run `npm run build` first)
// in an empty temporary folder, with two flags added: `--port 0` (an ephemeral port on 127.0.0.1)
// and `--seed-end` (the seeded fleet ends at SEED_END instead of now, so every time in the answers
// is fixed). Then it sends each documented request over loopback and writes what came back between
// `<!-- capture:NAME -->` and `<!-- /capture -->` in docs/http.md, as a curl transcript: the curl
// command a reader would type (port 7070), then what curl prints. The only things changed from
// what was received: the port is shown as 7070, and the Date, Connection and Keep-Alive headers
// are left out (they name the moment and the socket). test/serve/httpDocs.test.ts runs the check.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const HTTP_DOCS = join(root, 'docs', 'http.md');

/** When the captured fleet's last event happens (`serve --seed --seed-end`). */
export const SEED_END = '2026-12-01T12:00:00.000Z';
const SHOWN_PORT = 7070;
const HIDDEN_HEADERS = new Set(['date', 'connection', 'keep-alive']);
/** An id of our own for the example append, so that sending it again is visibly a duplicate. */
const HEARTBEAT_ID = '6d7c3f0e-9a1b-4c2d-8e3f-0a1b2c3d4e5f';
const later = (seconds: number): string => new Date(Date.parse(SEED_END) + seconds * 1000).toISOString();

interface Served {
  port: number;
  /** Events the seed appended (positions 1…appended). */
  appended: number;
  stop(): Promise<void>;
}

/** package.json's `start` script, run from an empty folder with `--port 0 --seed-end SEED_END`. */
const startLikeNpmStart = (cwd: string): Promise<Served> => {
  const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [node, cli, ...args] = start.split(' ');
  if (node !== 'node' || cli === undefined) throw new Error(`package.json's start script is not "node <cli> …": ${start}`);
  const env = { ...process.env };
  for (const name of ['ROLLCALL_STORE', 'ROLLCALL_TOKEN', 'ROLLCALL_READ_TOKEN']) delete env[name];
  const child = spawn(process.execPath, [join(root, cli), ...args, '--port', '0', '--seed-end', SEED_END], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let stderr = '';
    void exited.then(() => reject(new Error(`\`${start}\` exited before listening: ${stderr.trim()}`)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      const listening = / on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
      const appended = /appended ([\d,]+) events/.exec(stderr);
      if (!listening || !appended) return;
      child.stderr.removeAllListeners('data');
      child.stderr.resume();
      resolve({
        port: Number(listening[1]),
        appended: Number(appended[1]!.replaceAll(',', '')),
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      });
    });
  });
};

interface Call {
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What the transcript shows of an answer, as the curl flags and the pipe after it would. */
type Shown =
  | { curl: 'body'; cut?: number }
  | { curl: 'include' }
  | { curl: 'headers' }
  | { curl: 'body'; grep: string; head: number }
  | { curl: 'body'; wc: true };

interface Answer {
  status: number;
  statusLine: string;
  /** Shown headers, `name: value`, in the order sent. */
  headers: string[];
  body: string;
}

const send = (port: number, call: Call, stream?: { signal: AbortSignal; onChunk(text: string): void }): Promise<{ res: IncomingMessage; done: Promise<Answer> }> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: call.method ?? 'GET', path: call.path, headers: call.headers ?? {}, ...(stream ? { signal: stream.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      const headers: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        if (!HIDDEN_HEADERS.has(res.rawHeaders[i]!.toLowerCase())) headers.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      }
      const done = new Promise<Answer>((ok, fail) => {
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          stream?.onChunk(c.toString('utf8'));
        });
        res.once('end', () => ok({ status: res.statusCode!, statusLine: `HTTP/1.1 ${res.statusCode} ${res.statusMessage}`, headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.once('error', fail);
      });
      resolve({ res, done });
    });
    req.once('error', reject);
    req.end(call.body);
  });

const shell = (s: string): string => (/^[\w/.:-]+$/.test(s) ? s : /'/.test(s) ? JSON.stringify(s) : `"${s}"`);

/** The curl command a reader would type for `call`, against port 7070. */
const curlLine = (call: Call, shown: Shown): string => {
  const flags = shown.curl === 'include' ? ['-si'] : shown.curl === 'headers' ? ['-s', '-o', '/dev/null', '-D', '-'] : ['-s'];
  const words = ['curl', ...flags];
  if (call.method === 'POST' && call.body === undefined) words.push('-X', 'POST');
  for (const [name, value] of Object.entries(call.headers ?? {})) words.push('-H', `"${name}: ${value}"`);
  words.push(shell(`localhost:${SHOWN_PORT}${call.path}`));
  if (call.body !== undefined) words.push('-d', `'${call.body}'`);
  let line = words.join(' ');
  if ('cut' in shown && shown.cut !== undefined) line += ` | cut -c -${shown.cut}`;
  if ('grep' in shown) line += ` | grep -E '${shown.grep}' | head -n ${shown.head}`;
  if ('wc' in shown) line += ' | wc -c';
  return `$ ${line}`;
};

/** What curl (and the pipe) print for `answer`. */
const printed = (answer: Answer, shown: Shown): string => {
  const head = `${[answer.statusLine, ...answer.headers].join('\n')}\n\n`;
  if (shown.curl === 'headers') return head;
  if (shown.curl === 'include') return head + answer.body;
  if ('wc' in shown) return String(Buffer.byteLength(answer.body));
  const lines = answer.body.replace(/\n$/, '').split('\n');
  if ('grep' in shown) return lines.filter((l) => new RegExp(shown.grep).test(l)).slice(0, shown.head).join('\n');
  return shown.cut === undefined ? answer.body : lines.map((l) => l.slice(0, shown.cut)).join('\n');
};

const showPort = (text: string, port: number): string => text.replaceAll(`127.0.0.1:${port}`, `127.0.0.1:${SHOWN_PORT}`).replaceAll(`localhost:${port}`, `localhost:${SHOWN_PORT}`);

/** A transcript: one block of curl commands and what they printed per capture name. */
class Transcript {
  readonly blocks = new Map<string, string[]>();
  constructor(private readonly port: number) {}

  add(block: string, text: string): void {
    const list = this.blocks.get(block) ?? [];
    list.push(showPort(text.replace(/\n*$/, ''), this.port));
    this.blocks.set(block, list);
  }

  async curl(block: string, call: Call, shown: Shown = { curl: 'body' }): Promise<Answer> {
    const answer = await (await send(this.port, call)).done;
    this.add(block, `${curlLine(call, shown)}\n${printed(answer, shown)}`);
    return answer;
  }
}

const json = <T>(answer: Answer): T => JSON.parse(answer.body) as T;

/** Sends every documented request to a fresh `npm start` and returns the transcript blocks by name. */
export const captureHttpExamples = async (): Promise<Map<string, string[]>> => {
  const cwd = mkdtempSync(join(tmpdir(), 'rollcall-http-docs-'));
  const served = await startLikeNpmStart(cwd);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the capture took over 3 minutes: is the server answering?')), 180_000);
  });
  try {
    return await Promise.race([deadline, captureFrom(served)]);
  } finally {
    clearTimeout(timer);
    await served.stop();
    rmSync(cwd, { recursive: true, force: true });
  }
};

const captureFrom = async (served: Served): Promise<Map<string, string[]>> => {
  {
    const t = new Transcript(served.port);
    const raw = (call: Call) => send(served.port, call).then((s) => s.done);
    // Caught up with the seed: the server waits for the position itself (no polling).
    const ready = await raw({ path: `/v1/projection?minPosition=${served.appended}&waitMs=30000` });
    if (ready.status !== 200) throw new Error(`the server did not reach position ${served.appended}: ${ready.status} ${ready.body.slice(0, 200)}`);

    const pools = Object.keys(json<Record<string, unknown>>(await raw({ path: '/v1/pools' }))).sort();
    const running = json<{ running: string[] }>(await raw({ path: '/v1/running' })).running;
    const pool = pools[0]!;
    const agent = running[0]!;

    await t.curl('health', { path: '/healthz' });
    await t.curl('health', { path: '/readyz' });

    await t.curl('reads', { path: `/v1/pools/${pool}` }, { curl: 'include' });
    await t.curl('reads', { path: '/v1/running' }, { curl: 'body', cut: 300 });
    await t.curl('reads', { path: `/v1/agents/${agent}` }, { curl: 'body', cut: 400 });
    await t.curl('reads', { path: '/v1/sessions?state=starting' }, { curl: 'body', cut: 300 });
    await t.curl('reads', { path: '/v1/anomalies' }, { curl: 'body', cut: 300 });
    await t.curl('reads', { path: `/v1/pools/${pool}/explain` }, { curl: 'body', cut: 400 });
    await t.curl('reads', { path: `/v1/pools/${pool}/slots` }, { curl: 'body', cut: 400 });

    await t.curl('compression', { path: '/v1/projection' }, { curl: 'body', wc: true });
    await t.curl('compression', { path: '/v1/projection', headers: { 'accept-encoding': 'gzip' } }, { curl: 'headers' });

    // The change stream, opened before the appends below, shown after them.
    const stream = new AbortController();
    const sseCall: Call = { path: '/v1/changes' };
    let sseText = '';
    let sseWaiter = (): void => undefined;
    const sse = await send(served.port, sseCall, {
      signal: stream.signal,
      onChunk: (text) => {
        sseText += text;
        sseWaiter();
      },
    });
    sse.done.catch(() => undefined);
    const sseSaw = (pattern: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        sseWaiter = () => {
          if (pattern.test(sseText)) resolve();
        };
        sse.res.once('error', reject);
        sseWaiter();
      });
    await sseSaw(/event: caught-up\n/);

    const heartbeat = JSON.stringify({ id: HEARTBEAT_ID, type: 'AgentHeartbeat', data: { agentId: agent }, metadata: { at: later(1) } });
    const appended = json<{ last: string }>(await t.curl('appends', { method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json' }, body: heartbeat }));
    await t.curl('appends', { method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json' }, body: heartbeat });
    const spawnedWithoutSession = JSON.stringify([{ type: 'AgentSpawned', data: { agentId: agent }, metadata: { at: later(2) } }]);
    await t.curl('appends', { method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json' }, body: spawnedWithoutSession });
    await t.curl('appends', { method: 'POST', path: '/v1/events', headers: { 'content-type': 'text/plain' }, body: 'hi' });

    await sseSaw(new RegExp(`\nid: ${appended.last}\n[^]*?\n\n`));
    stream.abort();
    // Comments that only keep the connection open (every 15 s) depend on how long this took.
    const streamed = sseText.replace(/^: keep-alive\n\n/gm, '');
    t.add('changes', `${curlLine(sseCall, { curl: 'body' }).replace('curl -s ', 'curl -sN ')}   # then the appends above, from another terminal; interrupted after the heartbeat\n${streamed}`);

    const next = BigInt(appended.last) + 1000n;
    await t.curl('errors', { path: `/v1/projection?minPosition=${next}&waitMs=500` });
    await t.curl('errors', { path: '/v1/agents/nobody' });
    await t.curl('errors', { path: '/v1/nowhere' });

    await t.curl('metrics', { path: '/metrics' }, { curl: 'body', grep: `^rollcall_(projection_position|sessions)|pool="${pool}"`, head: 12 });
    return t.blocks;
  }
};

const MARKER = /<!-- capture:([\w-]+) -->\n[^]*?<!-- \/capture -->/g;

/** `doc` with every capture block replaced by its transcript; a marker without a capture, or a capture without a marker, is an error. */
export const withCaptures = (doc: string, blocks: Map<string, string[]>): string => {
  const seen = new Set<string>();
  const out = doc.replace(MARKER, (_, name: string) => {
    const block = blocks.get(name);
    if (block === undefined) throw new Error(`docs/http.md has a <!-- capture:${name} --> that the script does not capture`);
    seen.add(name);
    return `<!-- capture:${name} -->\n\`\`\`console\n${block.join('\n')}\n\`\`\`\n<!-- /capture -->`;
  });
  const missing = [...blocks.keys()].filter((name) => !seen.has(name));
  if (missing.length) throw new Error(`docs/http.md has no <!-- capture:NAME --> … <!-- /capture --> for ${missing.join(', ')}`);
  return out;
};

/** A line diff (- in the file, + captured), with two lines of context around each change. */
export const lineDiff = (before: string, after: string): string => {
  const a = before.split('\n');
  const b = after.split('\n');
  // Longest common subsequence, from the end, so the walk below runs forwards.
  const lcs = Array.from({ length: a.length + 1 }, () => new Int32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Array<{ sign: ' ' | '-' | '+'; line: string; at: number }> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ sign: ' ', line: a[i++]!, at: j++ });
    else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ sign: '-', line: a[i++]!, at: j });
    else ops.push({ sign: '+', line: b[j]!, at: j++ });
  }
  const near = (k: number) => ops.slice(Math.max(0, k - 2), k + 3).some((o) => o.sign !== ' ');
  const out: string[] = [];
  let last = -2;
  ops.forEach((o, k) => {
    if (!near(k)) return;
    if (k !== last + 1) out.push(`@@ captured line ${o.at + 1}`);
    out.push(`${o.sign}${o.line}`);
    last = k;
  });
  return out.join('\n');
};

/** Captures the examples and compares them with docs/http.md (writing them there unless `check`). */
export const captureHttpDocs = async ({ check }: { check: boolean }): Promise<{ diff: string }> => {
  const doc = readFileSync(HTTP_DOCS, 'utf8');
  const captured = withCaptures(doc, await captureHttpExamples());
  if (!check && captured !== doc) writeFileSync(HTTP_DOCS, captured);
  return { diff: captured === doc ? '' : lineDiff(doc, captured) };
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes('--check');
  const { diff } = await captureHttpDocs({ check });
  if (diff === '') console.log('docs/http.md: the examples are what npm start serves');
  else if (!check) console.log(`docs/http.md: examples rewritten\n${diff}`);
  else {
    console.log(`docs/http.md differs from what npm start serves (run: node --import tsx scripts/captureHttpDocs.ts)\n${diff}`);
    process.exitCode = 1;
  }
}
