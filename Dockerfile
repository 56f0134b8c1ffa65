# syntax=docker/dockerfile:1.7
# The Switchboard server: a release build in the official Rust image, run
# from a slim Debian with only the binary and the built web client.
#
#   docker build -t switchboard .
#   docker run -p 3001:3001 -e JWT_SECRET="$(openssl rand -base64 48)" \
#     -e DATABASE_URL=postgres://... \
#     -v switchboard-attachments:/app/attachments switchboard
#
# Attachments are kept in /app/attachments (ATTACHMENTS_STORE defaults to
# file://./attachments, relative to /app): mount a volume there, or they go
# with the container; or set ATTACHMENTS_STORE=s3://bucket/prefix and the
# AWS_* variables (docs/deployment.md, "Attachments").
#
# The image refuses to start without JWT_SECRET or JWT_PUBLIC_KEY_FILE
# (REQUIRE_JWT_KEY): a server without a key is in development mode, where
# anyone who reaches it can mint an admin token. For a throwaway demo only:
#   docker run -p 3001:3001 -e HOST=0.0.0.0 switchboard --dev
# (development mode listens on 127.0.0.1 unless HOST says otherwise).
#
# Not built on the project's own machines (they have a Docker client but no
# engine); docker-compose.yml uses it. See docs/deployment.md.

# ---- build ------------------------------------------------------------------
# rust-version in Cargo.toml is 1.94; the project builds with 1.95.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The whole workspace (entities, migration, bench are members); .dockerignore
# keeps target/ and node_modules/ out of the context.
COPY . .
# Cache mounts keep the registry and the build directory between builds; the
# binary is copied out of the cached target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p switchboard \
    && install -D target/release/switchboard /out/switchboard

# ---- run --------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: TLS to a managed PostgreSQL/Redis; curl: the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin switchboard \
    && install -d -o switchboard /app/attachments
WORKDIR /app
COPY --from=build /out/switchboard /usr/local/bin/switchboard
# The demo pages / reference client served at / (STATIC_DIR).
COPY --chown=switchboard web-client/dist /app/web-client/dist
USER switchboard
# No HOST: production mode listens on 0.0.0.0. REQUIRE_JWT_KEY: no key, no
# start (unless --dev is given explicitly).
ENV PORT=3001 \
    STATIC_DIR=/app/web-client/dist \
    LOG_FORMAT=json \
    REQUIRE_JWT_KEY=true
EXPOSE 3001
# /health is 200 while the database answers (503 when it does not); a node
# whose Redis is down still answers 200 with status "degraded".
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" >/dev/null || exit 1
# SIGTERM: graceful shutdown (events in flight finish, sockets are closed).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/switchboard"]
