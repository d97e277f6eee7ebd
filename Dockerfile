# syntax=docker/dockerfile:1
#
# alertbridge container image.
#
#   docker build -t alertbridge:dev .
#   docker run --rm -v "$PWD/my-config.yaml:/etc/alertbridge/config.yaml:ro" --read-only --tmpfs /tmp \
#     -p 8080:8080 alertbridge:dev
#
# The image runs as uid/gid 10001 and writes nothing outside /tmp, so it works with a read-only root filesystem.
# The configuration is read from /etc/alertbridge/config.yaml (the Helm chart mounts its ConfigMap there);
# secrets for `*_file` keys go under /etc/alertbridge/secrets. Port 8080 serves webhooks, /healthz, /readyz and
# /metrics (server.listen defaults to 0.0.0.0:8080).

ARG NODE_IMAGE=node:24-slim

# --- build: compile TypeScript to dist/ -----------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# `npm ci` would run the `prepare` script (the tsc build) before the sources are here: build explicitly instead.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY sinks ./sinks
RUN npm run build

# --- deps: production node_modules only ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="alertbridge" \
      org.opencontainers.image.description="Streams Microsoft Graph Security alerts into SIEMs (Splunk HEC, Kafka, Azure Event Hubs, files) through a deduplicating Redis queue" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"

# An explicit heap limit makes V8 collect large, short-lived batch strings early: steady-state RSS 151 MiB instead of
# 194 MiB at 1,000 records/s (docs/benchmarks.md), for more GC CPU. Override with NODE_OPTIONS (chart: extraEnv).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size=192 \
    HOME=/tmp
WORKDIR /app

# A fixed non-root uid/gid (the chart's securityContext uses the same numbers) and the configuration folders.
RUN groupadd --system --gid 10001 alertbridge \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin alertbridge \
 && mkdir -p /etc/alertbridge/secrets

# package.json carries "type": "module", which the compiled ESM in dist/ needs.
COPY --chown=root:root package.json ./
COPY --chown=root:root --from=deps /app/node_modules ./node_modules
COPY --chown=root:root --from=build /src/dist ./dist
COPY --chown=root:root bin ./bin
COPY --chown=root:root config ./config

USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["node", "/app/bin/alertbridge.js"]
CMD ["run", "--config", "/etc/alertbridge/config.yaml"]
