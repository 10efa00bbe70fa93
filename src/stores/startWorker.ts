import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker module `name` that sits next to the calling module (`callerUrl`: its
 * `import.meta.url`). Compiled, that is `name.js`, run directly. Under the test runner or the bench
 * the caller is TypeScript: the worker then registers tsx (a dev dependency, found from here, so a
 * worker started from any folder resolves it) before it loads `name.ts`.
 */
export const startWorker = (callerUrl: string, name: string, options: WorkerOptions): Worker => {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  // The ESM entry of tsx's API (require.resolve names its CommonJS twin).
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { ...options, eval: true });
};
