import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultStoreUrl, openStore, sqlitePath } from '../../src/stores/openStore.js';
import { maskUrl } from '../../src/stores/maskUrl.js';
import { heartbeats } from '../support/events.js';

const dir = mkdtempSync(join(tmpdir(), 'rollcall-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openStore', () => {
  it('defaults to the embedded store, unless ROLLCALL_STORE says otherwise', () => {
    expect(defaultStoreUrl({})).toBe('sqlite:./rollcall.db');
    expect(defaultStoreUrl({ ROLLCALL_STORE: 'memory:' })).toBe('memory:');
  });

  it.each([
    ['sqlite:./rollcall.db', './rollcall.db'],
    ['sqlite:data/log.db', 'data/log.db'],
    ['sqlite:/var/lib/rollcall.db', '/var/lib/rollcall.db'],
    ['sqlite:///var/lib/rollcall.db', '/var/lib/rollcall.db'],
    ['sqlite::memory:', ':memory:'],
  ])('sqlite URL %s names the file %s', (url, path) => {
    expect(sqlitePath(url)).toBe(path);
  });

  it('opens sqlite: relative to the working directory', async () => {
    const file = join(dir, 'relative.db');
    const store = await openStore(`sqlite:${relative(process.cwd(), file)}`);
    await store.appendBatch(heartbeats(2));
    expect(await store.head()).toBe(2n);
    await store.close();
    expect(existsSync(file)).toBe(true);
    const again = await openStore(`sqlite://${file}`);
    expect(await again.head()).toBe(2n);
    await again.close();
  });

  it('opens memory:', async () => {
    const store = await openStore('memory:');
    expect(store.url).toBe('memory:');
    expect(await store.head()).toBeNull();
  });

  it.each(['mysql://x', 'nonsense', 'sqlite:', 'http://example.com'])('rejects %s as a usage error', async (url) => {
    await expect(openStore(url)).rejects.toMatchObject({ code: 'usage' });
  });

  it.each([
    ['postgres://user:secret@db:5432/app', 'postgres://user:***@db:5432/app'],
    ['postgresql://u:p%40ss@h/d?sslmode=require', 'postgresql://u:***@h/d?sslmode=require'],
    ['esdb://admin:changeit@localhost:2113?tls=false', 'esdb://admin:***@localhost:2113?tls=false'],
    ['postgres://user@db/app', 'postgres://user@db/app'],
    ['sqlite:./a:b@c.db', 'sqlite:./a:b@c.db'],
  ])('masks the password of %s', (url, masked) => {
    expect(maskUrl(url)).toBe(masked);
  });
});
