# syntax=docker/dockerfile:1
# rollcall as a container: `rollcall serve` on 0.0.0.0:7070, following the store in ROLLCALL_STORE,
# with its write token from a file (a compose/Kubernetes secret) or ROLLCALL_TOKEN.
# Not built or run on the development machines (they have no container engine): see docs/deploy.md.

FROM node:20-slim AS build
WORKDIR /app
# better-sqlite3 downloads a prebuilt binary for glibc on x64/arm64; the toolchain is only its fallback.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY . .
# npm ci runs the package's prepare script, which builds dist/.
RUN npm ci && npm run build && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production \
    ROLLCALL_STORE=sqlite:/data/rollcall.db
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The embedded store's file lives in a volume owned by the unprivileged user that runs rollcall.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 7070
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7070/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "7070"]
