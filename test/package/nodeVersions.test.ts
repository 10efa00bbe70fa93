// The Node versions we claim are the ones CI runs: package.json engines, .ci/run and the README agree.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const engines = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { engines: { node: string } }).engines.node;
const ci = readFileSync(`${root}/.ci/run`, 'utf8');
const readme = readFileSync(`${root}/README.md`, 'utf8');

describe('supported Node versions', () => {
  const claimed = engines.split('||').map((r) => Number(/^\s*(\d+)\.x\s*$/.exec(r)?.[1]));
  const extra = (/^for major in ([\d ]+); do$/m.exec(ci)?.[1] ?? '').trim().split(/\s+/).map(Number);

  it('engines lists whole major lines, the Node running the suite among them', () => {
    expect(claimed.every(Number.isInteger)).toBe(true);
    expect(claimed).toContain(Number(process.versions.node.split('.')[0]));
  });

  it('CI runs every other claimed line through the registry node package', () => {
    expect(extra.length).toBeGreaterThan(0);
    expect([...new Set([Number(process.versions.node.split('.')[0]), ...extra])].sort()).toEqual([...claimed].sort());
    expect(ci).toContain('--package=node@"$major"');
  });

  it('the README says the same versions', () => {
    const listed = claimed.slice(0, -1).join(', ') + ` or ${claimed.at(-1)}`;
    expect(readme).toContain(`- Node ${listed} (`);
  });
});
