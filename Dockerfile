# shardline as an image: the compiled package and its production dependencies, run as the
# unprivileged `node` user. One image for every role; the command picks it:
#   docker run shardline consumer --domain ./inventory.js     (mount or COPY your domain)
#   docker run shardline producer | send ... | inspect | gateway
# Configuration as for the CLI: SHARDLINE_CONFIG (config/*.json are in /app/config),
# SHARDLINE_* and REDIS_URL / KAFKA_BROKERS, or flags.

# Build: every dependency, then compile src/ to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Production dependencies only (no TypeScript, tsx or vitest).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
USER node
# /metrics, /healthz, /readyz (metrics.port, SHARDLINE_METRICS_PORT).
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.SHARDLINE_METRICS_PORT || 9464}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/shardline.js"]
CMD ["consumer"]
