// Bundles src/dashboard into static assets in dist/dashboard (index.html, app.js, app.css), which
// `rollcall serve` serves at GET /. Everything the page needs is in these files: no CDN, no fetch
// at run time other than the server's own API.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'dashboard');
const out = join(root, 'dist', 'dashboard');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(src, 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: process.env['DASHBOARD_MINIFY'] !== '0',
  sourcemap: 'linked',
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(src, 'tsconfig.json'),
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync(join(src, 'index.html'), join(out, 'index.html'));
const size = (f: string) => `${(statSync(join(out, f)).size / 1024).toFixed(1)} KiB`;
console.log(`dashboard: dist/dashboard/app.js ${size('app.js')}, app.css ${size('app.css')}`);
