// The dashboard in a real browser (Debian's chromium driven by playwright-core) against a real HTTP
// server on a seeded sqlite store: `rollcall serve` as a real process.
// Skips with a notice only where no Chromium exists and CI is unset.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { generateHistory } from '../../src/generate/generateHistory.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import type { PoolJson, ProjectionJson } from '../../src/projections/lifecycleView.js';
import type { AgentAudit } from '../../src/inspect/auditAgent.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { tempDir } from '../support/cli.js';
import { fileURLToPath } from 'node:url';
import { startServe } from '../support/serveProcess.js';

const dashboardDir = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

interface TestServer {
  url: string;
  port: number;
  stop(): Promise<number | null>;
  append(events: LifecycleEvent[]): Promise<void>;
}

/** A server on the store: producers append through its API where it has one. */
const startServer = async (store: EventStore, port?: number): Promise<TestServer> => {
  const s = await startServe(store.url, port === undefined ? {} : { port });
  return {
    ...s,
    async append(events) {
      const res = await fetch(new URL('v1/events', s.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
      expect(res.status, await res.clone().text()).toBe(201);
    },
  };
};

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const executablePath = process.env['CHROMIUM_PATH'] ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const ci = process.env['CI'] === 'true';
if (executablePath === undefined && !ci) console.warn('notice: no Chromium found (/usr/bin/chromium); skipping the dashboard browser test');

// Screenshots land in docs/ only when asked, so an ordinary run does not rewrite committed images.
const docsDir = new URL('../../docs/', import.meta.url).pathname;
const shotsDir = process.env['ROLLCALL_UPDATE_SCREENSHOTS'] === '1' ? docsDir : join(tempDir(), 'shots');

const ev = (type: string, data: Record<string, unknown>, at = new Date().toISOString()): LifecycleEvent =>
  ({ id: randomUUID(), type, data, metadata: { at } }) as LifecycleEvent;

/** A generated fleet ending about now, plus a disabled pool, an over-full one and a stuck start. */
const seed = (): LifecycleEvent[] => {
  const start = new Date(Date.now() - 15 * 60_000).toISOString();
  const events: LifecycleEvent[] = [...generateHistory({ agents: 40, events: 2000, seed: 7, start })] as LifecycleEvent[];
  const at = (ago: number) => new Date(Date.now() - ago * 1000).toISOString();
  events.push(
    ev('PoolCreated', { poolId: 'pl-off', name: 'paused', maxSize: 2, enabled: false }, at(60)),
    ev('PoolCreated', { poolId: 'pl-tight', name: 'tight', maxSize: 1 }, at(60)),
    ev('AgentRegistered', { agentId: 'zz-a', role: 'worker' }, at(59)),
    ev('AgentRegistered', { agentId: 'zz-b', role: 'worker', variant: 'ephemeral' }, at(59)),
    ev('AgentRegistered', { agentId: 'zz-c', role: 'steward' }, at(59)),
    ev('AgentSpawned', { agentId: 'zz-a', sessionId: 'zz-a-1', poolId: 'pl-tight', pid: 901 }, at(58)),
    ev('AgentSpawned', { agentId: 'zz-b', sessionId: 'zz-b-1', poolId: 'pl-tight', pid: 902 }, at(58)),
    ev('SessionStarting', { agentId: 'zz-c', sessionId: 'zz-c-1', poolId: 'pl-off' }, at(50)),
  );
  return events;
};

const getJson = async <T>(base: string, path: string): Promise<T> => {
  const res = await fetch(new URL(path, base));
  expect(res.ok, `${path} answered ${res.status}`).toBe(true);
  return (await res.json()) as T;
};

/** Each pool row as the page shows it. */
const shownPools = (page: Page) =>
  page.locator('[data-testid=pools] tbody tr').evaluateAll((rows) =>
    rows.map((r) => ({
      poolId: r.getAttribute('data-pool-id'),
      used: r.querySelector('[data-col=used]')?.textContent?.trim(),
      free: r.querySelector('[data-col=free]')?.textContent?.trim(),
      disabled: r.querySelector('[data-badge=disabled]') !== null,
      over: /over capacity by (\d+)/.exec(r.querySelector('[data-badge=over]')?.textContent ?? '')?.[1] ?? null,
    })),
  );

const expectedPools = (pools: Record<string, PoolJson>) =>
  Object.values(pools)
    .sort((a, b) => (a.poolId < b.poolId ? -1 : 1))
    .map((p) => ({
      poolId: p.poolId,
      used: `${p.status.activeCount} / ${p.maxSize}`,
      free: String(p.status.availableSlots),
      disabled: !p.enabled,
      over: p.status.overCapacityBy > 0 ? String(p.status.overCapacityBy) : null,
    }));

const shot = async (page: Page, name: string) => {
  mkdirSync(shotsDir, { recursive: true });
  const path = join(shotsDir, `dashboard-${name}.png`);
  await page.screenshot({ path, type: 'png' });
  const size = statSync(path).size;
  expect(size).toBeGreaterThan(5_000);
  expect(size).toBeLessThan(300_000);
};

// The machine may be shared and loaded: generous timeouts, while the 1 s bound stays asserted.
describe.skipIf(executablePath === undefined && !ci)('dashboard in a real browser', { timeout: 30_000 }, () => {
  let dir: string;
  let store: EventStore;
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let seeded: LifecycleEvent[];
  const consoleErrors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    expect(existsSync(join(dashboardDir, 'index.html')), 'dist/dashboard is missing: run `npm run build`').toBe(true);
    expect(executablePath, 'CI=true needs Chromium (apt-get install chromium)').toBeDefined();
    dir = tempDir();
    store = openSqliteStore({ path: join(dir, 'rollcall.db') });
    seeded = seed();
    await store.appendBatch(seeded);
    server = await startServer(store);
    browser = await chromium.launch({ executablePath: executablePath!, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(new URL(r.url()).pathname + new URL(r.url()).search));
    await page.goto(server.url);
    await page.locator('[data-testid=status] [data-field=connection]', { hasText: /^live$/ }).waitFor({ timeout: 15_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await store?.close();
  });

  it('shows the pools exactly as /v1/pools, disabled and over-capacity pools marked', async () => {
    const pools = await getJson<Record<string, PoolJson> | { pools: Record<string, PoolJson> }>(server.url, 'v1/pools');
    const byId = 'pools' in pools && typeof pools.pools === 'object' ? (pools.pools as Record<string, PoolJson>) : (pools as Record<string, PoolJson>);
    const expected = expectedPools(byId);
    // The generated fleet's pools (four with this seed since the generator learned liveness) and the two made here.
    expect(expected.length).toBeGreaterThanOrEqual(5);
    expect(expected.find((p) => p.poolId === 'pl-off')).toMatchObject({ disabled: true, free: '0' });
    expect(expected.find((p) => p.poolId === 'pl-tight')).toMatchObject({ over: '1', used: '2 / 1' });
    await expect.poll(() => shownPools(page)).toEqual(expected);
    const projection = await getJson<ProjectionJson>(server.url, 'v1/projection');
    expect(await page.locator('[data-field=running]').textContent()).toBe(String(projection.running.length));
    // The stuck start shows with its age.
    await expect.poll(() => page.locator('[data-testid=stuck] tr[data-session-id="zz-c-1"]').textContent()).toMatch(/starting.*\d+ (s|min)/);
    await shot(page, 'desktop');
  });

  it('shows an appended AgentSpawned within 1 s, patching the page in place', async () => {
    await server.append([ev('AgentRegistered', { agentId: 'aa-new', role: 'worker' })]);
    await expect.poll(() => page.locator('[data-testid=feed] li', { hasText: 'AgentRegistered' }).count()).toBeGreaterThan(0);
    const before = (await shownPools(page)).find((p) => p.poolId === 'pl-h249')!;
    await page.evaluate("document.querySelector('[data-testid=pools] table').dataset.keep = 'same-node'");
    const mark = requests.length;
    const t0 = Date.now();
    await server.append([ev('AgentSpawned', { agentId: 'aa-new', sessionId: 'aa-new-1', poolId: 'pl-h249', pid: 4242 })]);
    await page.locator('[data-testid=agents] tr[data-agent-id="aa-new"]').waitFor({ timeout: 1000 });
    const elapsed = Date.now() - t0;
    console.log(`dashboard: appended AgentSpawned visible after ${elapsed} ms`);
    expect(elapsed).toBeLessThan(1000);
    const [used] = before.used!.split(' / ');
    await expect.poll(async () => (await shownPools(page)).find((p) => p.poolId === 'pl-h249')!.used).toBe(`${Number(used) + 1} / ${before.used!.split(' / ')[1]}`);
    // Patched in place: the same table element, and no full reload of the projection.
    expect(await page.evaluate("document.querySelector('[data-testid=pools] table').dataset.keep")).toBe('same-node');
    const since = requests.slice(mark);
    expect(since.some((r) => r.startsWith('/v1/agents/aa-new'))).toBe(true);
    expect(since.filter((r) => r.startsWith('/v1/projection'))).toEqual([]);
  });

  it('opens an agent timeline with the answer to "why is it counted?"', async () => {
    // From the keyboard: the agent's id is a button.
    await page.locator('[data-testid=agents] tr[data-agent-id="aa-new"] button').focus();
    await page.keyboard.press('Enter');
    const audit = await getJson<AgentAudit>(server.url, 'v1/agents/aa-new/audit');
    const story = page.locator('[data-testid=story]');
    await expect.poll(() => story.locator('[data-testid=timeline] tbody tr').count()).toBe(audit.entries.length);
    expect(await story.locator('[data-testid=why] h3').textContent()).toBe('Why is it counted?');
    expect(await story.locator('[data-testid=why] li').allTextContents()).toEqual(audit.explanation);
    expect(await story.locator('[data-testid=timeline] tbody tr').last().textContent()).toContain('AgentSpawned');
    await shot(page, 'timeline');
    // Keyboard: Escape closes it and gives focus back to the agent's button.
    await page.keyboard.press('Escape');
    await story.waitFor({ state: 'detached' });
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('aa-new');
  });

  it('travels back to an earlier position and matches /v1/projection?until=, then returns to live', async () => {
    const until = 1200;
    const past = await getJson<ProjectionJson>(server.url, `v1/projection?until=${until}`);
    await page.locator('#travel-position').fill(String(until));
    await page.locator('#travel-position').press('Enter');
    await page.locator(`main[data-mode=travel][data-position="${until}"]`).waitFor({ timeout: 10_000 });
    await expect.poll(() => shownPools(page)).toEqual(expectedPools(past.pools));
    expect(await page.locator('[data-field=running]').textContent()).toBe(String(past.running.length));
    expect(await page.locator('[data-testid=agents] h2 .count').textContent()).toBe(String(past.running.length));
    await shot(page, 'travel');
    // The same by time: as of the 800th event's `at`.
    const asOf = seeded[799]!.metadata.at;
    const then = await getJson<ProjectionJson>(server.url, `v1/projection?asOf=${encodeURIComponent(asOf)}`);
    await page.locator('#travel-time').fill(asOf);
    await page.locator('#travel-time').press('Enter');
    await page.locator(`main[data-mode=travel][data-position="${then.position}"]`).waitFor({ timeout: 10_000 });
    await expect.poll(() => shownPools(page)).toEqual(expectedPools(then.pools));
    expect(await page.locator('[data-field=running]').textContent()).toBe(String(then.running.length));
    await page.locator('[data-testid=back-to-live]').click();
    const live = await getJson<ProjectionJson>(server.url, 'v1/projection');
    await page.locator(`main[data-mode=live][data-position="${live.position}"]`).waitFor({ timeout: 5_000 });
    await expect.poll(() => shownPools(page)).toEqual(expectedPools(live.pools));
  });

  it('reads on a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    // Nothing wider than the screen but the tables' own scrolling boxes.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(page, 'phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('has no WCAG 2 A/AA violations that axe-core can find, live and with a timeline open', async () => {
    await page.addScriptTag({ path: axePath });
    const audit = async () => {
      const result = (await page.evaluate(
        "axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] }).then(r => ({ passes: r.passes.length, violations: r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')) }))",
      )) as { passes: number; violations: string[] };
      // It checked something (table headers, labels, contrast, …) and found nothing wrong.
      expect(result.passes).toBeGreaterThan(10);
      return result.violations;
    };
    expect(await audit()).toEqual([]);
    await page.locator('[data-testid=agents] tr[data-agent-id="aa-new"] button').click();
    await page.locator('[data-testid=timeline] tbody tr').first().waitFor();
    expect(await audit()).toEqual([]);
    await page.keyboard.press('Escape');
  });

  it('logs no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });

  it('reconnects after the server restarts and resumes where it left off', async () => {
    const port = server.port;
    // With serve, SIGTERM: it drains, closes the SSE streams and exits 0.
    expect(await server.stop()).toBe(0);
    await page.locator('[data-testid=status] [data-field=connection]', { hasText: 'reconnecting' }).waitFor({ timeout: 5_000 });
    // Written to the store while the server is down: the resumed stream must still deliver it.
    await store.appendBatch([ev('AgentRegistered', { agentId: 'ab-back', role: 'worker' })]);
    await store.appendBatch([ev('AgentSpawned', { agentId: 'ab-back', sessionId: 'ab-back-1', poolId: 'pl-yrx8', pid: 4343 })]);
    server = await startServer(store, port);
    await page.locator('[data-testid=agents] tr[data-agent-id="ab-back"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid=status] [data-field=connection]', { hasText: /^live$/ }).waitFor({ timeout: 5_000 });
    const live = await getJson<ProjectionJson>(server.url, 'v1/projection');
    await expect.poll(() => shownPools(page)).toEqual(expectedPools(live.pools));
    // Only the browser's own network complaints while the server was down.
    expect(consoleErrors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to load resource|EventSource/.test(e))).toEqual([]);
  }, 30_000);
});

describe.skipIf(executablePath === undefined && !ci)('dashboard at 10,000 agents', { timeout: 30_000 }, () => {
  let store: EventStore;
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    store = openSqliteStore({ path: join(tempDir(), 'rollcall.db') });
    const start = new Date(Date.now() - 60 * 60_000).toISOString();
    await store.appendBatch([...generateHistory({ agents: 10_000, events: 30_000, seed: 3, start })] as LifecycleEvent[]);
    server = await startServer(store);
    browser = await chromium.launch({ executablePath: executablePath!, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    await page.goto(server.url);
    await page.locator('[data-testid=status] [data-field=connection]', { hasText: /^live$/ }).waitFor({ timeout: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await store?.close();
  });

  it('pages the agents table and filters it by state, pool and type', async () => {
    const p = await getJson<ProjectionJson>(server.url, 'v1/projection');
    expect(Object.keys(p.agents).length).toBeGreaterThan(9_000);
    const count = () => page.locator('[data-testid=agents] h2 .count').textContent();
    const rows = page.locator('[data-testid=agents] tbody tr');
    expect(await count()).toBe(p.running.length.toLocaleString('en-US'));
    // One page of rows in the document, whatever the fleet's size.
    expect(await rows.count()).toBe(50);
    await expect.poll(() => page.locator('[data-testid=agents] .pager').textContent()).toContain(`of ${p.running.length.toLocaleString('en-US')}`);

    const agents = Object.values(p.agents);
    const poolOf = (a: (typeof agents)[number]) => (a.currentSessionId === null ? null : (p.sessions[a.currentSessionId]?.poolId ?? null));
    const poolId = Object.keys(p.pools).sort()[0]!;
    await page.locator('[data-testid=agents] select[name=pool]').selectOption(poolId);
    const inPool = agents.filter((a) => a.status === 'running' && poolOf(a) === poolId);
    await expect.poll(count).toBe(inPool.length.toLocaleString('en-US'));
    expect(new Set(await page.locator('[data-testid=agents] tbody tr td:nth-child(4)').allTextContents())).toEqual(new Set([poolId]));

    await page.locator('[data-testid=agents] select[name=pool]').selectOption('');
    await page.locator('[data-testid=agents] select[name=state]').selectOption('busy');
    const type = agents.find((a) => a.busy)!.type;
    await page.locator('[data-testid=agents] select[name=type]').selectOption(type);
    await expect.poll(count).toBe(agents.filter((a) => a.busy && a.type === type).length.toLocaleString('en-US'));
    await page.locator('[data-testid=agents] select[name=state]').selectOption('running');
    await page.locator('[data-testid=agents] select[name=type]').selectOption('');
  });

  it('shows an appended AgentSpawned promptly', async () => {
    await server.append([ev('AgentRegistered', { agentId: 'aaa-scale', role: 'worker' })]);
    await expect.poll(() => page.locator('[data-testid=feed] li', { hasText: 'AgentRegistered' }).count()).toBeGreaterThan(0);
    const t0 = Date.now();
    await server.append([ev('AgentSpawned', { agentId: 'aaa-scale', sessionId: 'aaa-scale-1', pid: 4444 })]);
    await page.locator('[data-testid=agents] tr[data-agent-id="aaa-scale"]').waitFor({ timeout: 5_000 });
    const elapsed = Date.now() - t0;
    // Baseline in the same run: one fetch of that agent from the server, nothing rendered.
    const t1 = Date.now();
    await getJson(server.url, 'v1/agents/aaa-scale');
    console.log(`dashboard at 10k agents: AgentSpawned visible after ${elapsed} ms (baseline: GET /v1/agents/{id} alone ${Date.now() - t1} ms)`);
    // A sanity bound for a loaded, shared machine; the figure is printed above, and the 1 s bound
    // is asserted on the ordinary seeded store.
    expect(elapsed).toBeLessThan(5_000);
    expect(consoleErrors).toEqual([]);
  });
});
