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
import type { PoolExplainJson, PoolSlotHistoryJson } from '../../src/projections/viewJson.js';
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
    ev('AgentSpawned', { agentId: 'zz-b', sessionId: 'zz-b-1', poolId: 'pl-tight', pid: 902, leaseMs: 3_600_000 }, at(58)),
    ev('SessionStarting', { agentId: 'zz-c', sessionId: 'zz-c-1', poolId: 'pl-off' }, at(50)),
    // Liveness (SPEC §7): a host that restarted, a suspect holder on a lease, a crash loop.
    ev('OrchestratorStarted', { host: 'zz-host', epoch: 1 }, at(49)),
    ev('OrchestratorStarted', { host: 'zz-host', epoch: 2 }, at(48)),
    ev('SessionLeaseRenewed', { agentId: 'zz-b', sessionId: 'zz-b-1' }, at(47)),
    ev('AgentSuspected', { agentId: 'zz-a', reason: 'silent for 90 s' }, at(46)),
    ev('AgentRegistered', { agentId: 'zz-q', role: 'worker' }, at(45)),
    ...[0, 1, 2].flatMap((i) => [
      ev('AgentSpawned', { agentId: 'zz-q', sessionId: `zz-q-${i}`, poolId: 'pl-tight', pid: 910 + i, host: 'zz-host', epoch: 2 }, at(44 - i * 2)),
      ev('AgentCrashed', { agentId: 'zz-q', reason: 'segfault' }, at(43 - i * 2)),
    ]),
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

const shot = async (page: Page, name: string, height?: number) => {
  mkdirSync(shotsDir, { recursive: true });
  const path = join(shotsDir, `dashboard-${name}.png`);
  const width = page.viewportSize()!.width;
  await page.screenshot({ path, type: 'png', ...(height === undefined ? {} : { fullPage: true, clip: { x: 0, y: 0, width, height } }) });
  const size = statSync(path).size;
  expect(size).toBeGreaterThan(5_000);
  expect(size).toBeLessThan(450_000);
};

/** Every visible table box whose table is wider than the box (clipped, or scrolled sideways). */
const clippedTables = (page: Page) =>
  page.evaluate(
    "[...document.querySelectorAll('.table-wrap')].filter((box) => box.offsetParent !== null && box.scrollWidth > box.clientWidth)" +
      ".map((box) => box.closest('[data-testid]')?.getAttribute('data-testid') + ': ' + box.scrollWidth + ' > ' + box.clientWidth)",
  ) as Promise<string[]>;

type Slots = PoolSlotHistoryJson;
type PoolExplain = PoolExplainJson;

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
    // Keyboard: Escape closes it and gives focus back to the agent's button.
    await page.keyboard.press('Escape');
    await story.waitFor({ state: 'detached' });
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('aa-new');
  });

  it('fits every table in its box at 1400 px, the agent timeline included: columns wrap instead of clipping', async () => {
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.locator('[data-testid=agents] tbody tr').first().waitFor();
    expect(await page.locator('.table-wrap:visible').count()).toBeGreaterThanOrEqual(5);
    expect(await clippedTables(page)).toEqual([]);
    await page.locator('[data-testid=agents] tr[data-agent-id="zz-q"]').waitFor({ state: 'detached' });
    await page.locator('#find-agent').fill('zz-q');
    await page.locator('#find-agent').press('Enter');
    await page.locator('[data-testid=timeline] tbody tr').nth(6).waitFor();
    expect(await clippedTables(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=story]').waitFor({ state: 'detached' });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('marks suspect and quarantined agents as the projection does, and lists them', async () => {
    const p = await getJson<ProjectionJson>(server.url, 'v1/projection');
    const suspect = Object.values(p.agents).filter((a) => a.suspect !== null).map((a) => a.agentId).sort();
    const quarantined = p.quarantined;
    expect(suspect).toContain('zz-a');
    expect(quarantined).toContain('zz-q');
    const rows = page.locator('[data-testid=agents] tbody tr');
    await page.locator('[data-testid=agents] select[name=state]').selectOption('suspect');
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((r) => r.getAttribute('data-agent-id')))).toEqual(suspect);
    expect(await rows.locator('[data-badge=suspect]').count()).toBe(suspect.length);
    await page.locator('[data-testid=agents] select[name=state]').selectOption('quarantined');
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((r) => r.getAttribute('data-agent-id')))).toEqual(quarantined);
    expect(await rows.locator('[data-badge=quarantined]').count()).toBe(quarantined.length);
    await page.locator('[data-testid=agents] select[name=state]').selectOption('running');
    const listed = (what: string) => page.locator(`[data-testid=liveness] [data-testid=${what}] li`).evaluateAll((lis) => lis.map((l) => l.getAttribute('data-agent-id')));
    expect(await listed('suspects')).toEqual(suspect);
    expect(await listed('quarantined')).toEqual(quarantined);
  });

  it("shows each host's epoch and live sessions as /v1/projection's hosts", async () => {
    const p = await getJson<ProjectionJson>(server.url, 'v1/projection');
    expect(p.hosts['zz-host']).toMatchObject({ epoch: 2 });
    const shown = await page.locator('[data-testid=hosts] tbody tr').evaluateAll((trs) =>
      trs.map((r) => ({ host: r.getAttribute('data-host'), epoch: Number(r.querySelector('[data-col=epoch]')!.textContent), live: Number(r.querySelector('[data-col=live]')!.textContent) })),
    );
    expect(shown).toEqual(Object.values(p.hosts).sort((a, b) => (a.host < b.host ? -1 : 1)).map((h) => ({ host: h.host, epoch: h.epoch, live: h.liveSessions })));
  });

  it('explains a pool: every holder, its badges and what would free its slot, as GET /v1/pools/{id}/explain', async () => {
    await page.locator('[data-testid=pools] tr[data-pool-id="pl-tight"] button').click();
    const panel = page.locator('[data-testid=pool-panel]');
    const explain = await getJson<PoolExplain>(server.url, 'v1/pools/pl-tight/explain');
    expect(explain.holders.map((h) => h.agentId)).toEqual(['zz-a', 'zz-b']);
    await expect.poll(() => panel.locator('[data-testid=holders] tbody tr').count()).toBe(explain.holders.length);
    const shown = await panel.locator('[data-testid=holders] tbody tr').evaluateAll((trs) =>
      trs.map((r) => ({ agentId: r.getAttribute('data-agent-id'), rules: [...r.querySelectorAll('[data-rule]')].map((li) => li.getAttribute('data-rule')) })),
    );
    // The holder whose slot frees soonest by itself first: zz-b's lease (zz-a's slot frees by no timed rule).
    expect(shown).toEqual(['zz-b', 'zz-a'].map((id) => explain.holders.find((h) => h.agentId === id)!).map((h) => ({ agentId: h.agentId, rules: h.releasedBy.map((r) => r.rule) })));
    expect(shown.find((h) => h.agentId === 'zz-b')!.rules[0]).toBe('lease');
    expect(await panel.locator('tr[data-agent-id="zz-a"] [data-badge=suspect]').count()).toBe(1);
    expect(await panel.locator('[data-testid=verdict]').textContent()).toMatch(/^Full: 2 of 1 slots held\. The earliest a slot frees by itself: zz-b’s lease at /);
    expect(await clippedTables(page)).toEqual([]);
  });

  it("draws the pool's slot history over a chosen range, and says who held the slots at a moment", async () => {
    const panel = page.locator('[data-testid=pool-panel]');
    const from = seeded[0]!.metadata.at;
    const to = new Date().toISOString();
    await panel.locator('input[name=from]').fill(from);
    await panel.locator('input[name=to]').fill(to);
    await panel.locator('input[name=to]').press('Enter');
    const slots = await getJson<Slots>(server.url, `v1/pools/pl-tight/slots?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    // zz-a and zz-b hold two slots of a one-slot pool; zz-q took a third three times and crashed each time.
    expect(slots.intervals.map((i) => `${i.sessionId}@${i.slot}${i.abnormal ? '!' : ''}`)).toEqual(['zz-a-1@0', 'zz-b-1@1', 'zz-q-0@2!', 'zz-q-1@2!', 'zz-q-2@2!']);
    const bars = () =>
      panel.locator('[data-testid=gantt] .hold').evaluateAll((els) =>
        els.map((e) => `${e.getAttribute('data-session-id')}@${e.closest('.lane')!.getAttribute('data-slot')}${e.classList.contains('abnormal') ? '!' : ''}`).sort(),
      );
    await expect.poll(bars).toEqual(slots.intervals.map((i) => `${i.sessionId}@${i.slot}${i.abnormal ? '!' : ''}`).sort());
    expect(await panel.locator('.lane.over').count()).toBe(2);
    // Who held the slots while zz-q-1 ran?
    const q1 = slots.intervals.find((i) => i.sessionId === 'zz-q-1')!;
    const moment = new Date(Date.parse(q1.from) + 500).toISOString();
    await panel.locator('input[name=at]').fill(moment);
    await panel.locator('input[name=at]').press('Enter');
    await expect.poll(() => panel.locator('[data-testid=held-at] tbody tr').evaluateAll((trs) => trs.map((r) => r.getAttribute('data-session-id')))).toEqual(['zz-a-1', 'zz-b-1', 'zz-q-1']);
    expect(await clippedTables(page)).toEqual([]);
    // While live, the explanation follows the pool (at most every 5 s: each answer folds the log).
    await server.append([ev('AgentRegistered', { agentId: 'zz-live', role: 'worker' }), ev('AgentSpawned', { agentId: 'zz-live', sessionId: 'zz-live-1', poolId: 'pl-tight', pid: 977 })]);
    await panel.locator('[data-testid=holders] tr[data-agent-id="zz-live"]').waitFor({ timeout: 15_000 });
    expect(await panel.locator('[data-testid=holders] tbody tr').count()).toBe(3);
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
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

  it('reads on a phone-sized screen: the stuck sessions on the first screen, no table wider than its box', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await clippedTables(page)).toEqual([]);
    const stuck = (await page.locator('[data-testid=stuck]').boundingBox())!;
    const pools = (await page.locator('[data-testid=pools]').boundingBox())!;
    // Near the top: it starts on the first screen, before the pools.
    expect(stuck.y).toBeLessThan(844 * 0.75);
    expect(stuck.y).toBeLessThan(pools.y);
    // A pool's panel too: its holders and the slot history's table fit the phone.
    await page.locator('[data-testid=pools] tr[data-pool-id="pl-tight"] button').click();
    await page.locator('[data-testid=holders] tbody tr').first().waitFor();
    await page.locator('[data-testid=held-at] tbody tr').first().waitFor();
    expect(await clippedTables(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=pool-panel]').waitFor({ state: 'detached' });
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
    await page.locator('[data-testid=story]').waitFor({ state: 'detached' });
    await page.locator('[data-testid=pools] tr[data-pool-id="pl-tight"] button').click();
    await page.locator('[data-testid=held-at] tbody tr').first().waitFor();
    expect(await audit()).toEqual([]);
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=pool-panel]').waitFor({ state: 'detached' });
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

// The screenshots in docs/ are of exactly what `npm start` serves: `serve --seed` on an empty store
// (the generated fleet of 300 agents ending now, with restarts, leases, suspects and a crash loop).
describe.skipIf(executablePath === undefined && !ci)('the dashboard on what `npm start` serves (the screenshots in docs/)', { timeout: 60_000 }, () => {
  let storePath: string;
  let server: Awaited<ReturnType<typeof startServe>>;
  let browser: Browser;
  const consoleErrors: string[] = [];

  const open = async (hash: string, width: number, height: number): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    await page.goto(server.url + hash);
    await page.locator('[data-testid=status] [data-field=connection]', { hasText: /^live$/ }).waitFor({ timeout: 30_000 });
    return page;
  };

  beforeAll(async () => {
    storePath = join(tempDir(), 'rollcall.db');
    server = await startServe(`sqlite:${storePath}`, { args: ['--seed'] });
    browser = await chromium.launch({ executablePath: executablePath!, args: ['--no-sandbox'] });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the fleet on a laptop and on a phone: hosts and their epochs, quarantined agents, stuck sessions first on the phone', async () => {
    const p = await getJson<ProjectionJson>(server.url, 'v1/projection');
    expect(Object.keys(p.hosts).length).toBeGreaterThan(0);
    expect(p.quarantined.length).toBeGreaterThan(0);
    const page = await open('', 1400, 900);
    await page.locator('[data-testid=hosts] tbody tr').first().waitFor();
    expect(await page.locator('[data-testid=hosts] tbody tr').count()).toBe(Object.keys(p.hosts).length);
    expect(await page.locator('[data-testid=liveness] [data-testid=quarantined] li').count()).toBe(p.quarantined.length);
    expect(await clippedTables(page)).toEqual([]);
    await shot(page, 'desktop', 1250);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await clippedTables(page)).toEqual([]);
    expect((await page.locator('[data-testid=stuck]').boundingBox())!.y).toBeLessThan(844 * 0.75);
    await shot(page, 'phone');
    // An agent of the crash loop: its timeline.
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.locator('[data-testid=liveness] [data-testid=quarantined] li button').first().click();
    await page.locator('[data-testid=timeline] tbody tr').first().waitFor();
    expect(await clippedTables(page)).toEqual([]);
    await shot(page, 'timeline');
    await page.close();
  });

  it('a pool explained at the moment one of its holders was suspect, and its slot history', async () => {
    // The newest AgentSuspected whose agent then held a slot of a pool.
    const store = openSqliteStore({ path: storePath });
    const suspected: Array<{ position: bigint; agentId: string }> = [];
    for await (const e of store.readAll({ after: null })) if (e.type === 'AgentSuspected') suspected.push({ position: e.position, agentId: (e.data as { agentId: string }).agentId });
    await store.close();
    let moment: { position: bigint; agentId: string; poolId: string } | null = null;
    for (const s of suspected.reverse()) {
      const a = await getJson<{ poolId: string | null }>(server.url, `v1/agents/${s.agentId}/explain?until=${s.position}`);
      if (a.poolId !== null) {
        moment = { ...s, poolId: a.poolId };
        break;
      }
    }
    expect(moment, 'the seeded fleet has a suspect holding a slot at some moment').not.toBeNull();
    const page = await open(`#until=${moment!.position}&pool=${moment!.poolId}`, 1400, 900);
    const panel = page.locator('[data-testid=pool-panel]');
    await panel.locator(`[data-testid=holders] tr[data-agent-id="${moment!.agentId}"] [data-badge=suspect]`).waitFor({ timeout: 30_000 });
    await page.locator(`main[data-mode=travel][data-position="${moment!.position}"]`).waitFor({ timeout: 30_000 });
    expect(await clippedTables(page)).toEqual([]);
    await shot(page, 'explain');
    await page.locator('[data-testid=gantt] .hold.abnormal').first().waitFor();
    await page.locator('[data-testid=slot-history] h3').evaluate((h) => h.scrollIntoView({ block: 'start' }));
    await shot(page, 'slots');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await shot(page, 'travel');
    await page.close();
    expect(consoleErrors).toEqual([]);
  });
});
