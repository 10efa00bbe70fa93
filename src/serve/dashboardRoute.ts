import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** Where the dashboard's build puts its static assets (from src/serve or dist/serve alike). */
export const defaultDashboardDir = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rollcall</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 42rem; margin: 3rem auto">
<h1>rollcall</h1>
<p>The dashboard's assets are not built (<code>npm run build</code> puts them in <code>dist/dashboard/</code>).
The HTTP API answers meanwhile:</p>
<ul>
<li><a href="/v1/pools">/v1/pools</a> · <a href="/v1/running">/v1/running</a> · <a href="/v1/anomalies">/v1/anomalies</a> · <a href="/v1/projection">/v1/projection</a></li>
<li><a href="/v1/changes">/v1/changes</a> (Server-Sent Events) · <a href="/metrics">/metrics</a> · <a href="/openapi.json">/openapi.json</a></li>
</ul>
</body></html>
`;

/** `GET /`: the dashboard's built assets, or a page that says they are missing and links the API. */
export const dashboardRoute: FastifyPluginAsyncZod<{ dir: string }> = async (app, { dir }) => {
  const built = existsSync(`${dir}/index.html`);
  if (built) {
    // Routes for the files present at start, not a catch-all: unknown paths stay JSON 404s.
    await app.register(fastifyStatic, { root: dir, prefix: '/', wildcard: false, index: false });
  }
  app.get(
    '/',
    { schema: { summary: 'the dashboard (a web page)', response: { 200: { description: 'HTML', content: { 'text/html': { schema: z.string() } } } } } },
    async (_request, reply) => (built ? reply.type('text/html; charset=utf-8').sendFile('index.html') : reply.type('text/html; charset=utf-8').send(placeholder)),
  );
};
