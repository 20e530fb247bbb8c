# syntax=docker/dockerfile:1
# Townhall in one container: `docker run -d -p 3000:3000 -p 3000:3000/udp -v townhall:/data \
#   -e PUBLIC_URL=https://town.example.org -e PUBLIC_IP=203.0.113.7 ghcr.io/OWNER/townhall`
# HTTP and the WebSocket on 3000/tcp; all audio (ICE-lite, one socket) on 3000/udp (RTC_PORT defaults to PORT).

# 1. Build: the client bundle and the single executable (dist/townhall) with everything inside.
FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json package-lock.json bunfig.toml tsconfig.json ./
RUN bun install --production --ignore-scripts
COPY server ./server
COPY client ./client
COPY scripts ./scripts
RUN bun scripts/build.ts && ./dist/townhall --version

# 2. Run: slim Debian, the binary alone, a non-root user, data in /data.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 townhall \
 && useradd --system --uid 10001 --gid townhall --home-dir /data --shell /usr/sbin/nologin townhall \
 && mkdir -p /data \
 && chown townhall:townhall /data
COPY --from=build /src/dist/townhall /usr/local/bin/townhall
# MIMALLOC_PURGE_DELAY=-1: the allocator keeps freed memory (less CPU under load; server/lib/allocator.ts, H87).
ENV DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000 \
    MIMALLOC_PURGE_DELAY=-1
VOLUME /data
WORKDIR /data
EXPOSE 3000/tcp 3000/udp
USER townhall:townhall
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["townhall", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "townhall"]
CMD ["serve"]
