// Several Switchboard nodes sharing one Redis (socketioxide-redis) and one
// PostgreSQL database, as in production (docker-compose.yml): the multi-node
// suite's harness. Also a private Redis a test may stop and start again.
//
// Needs TEST_PG_URL (a PostgreSQL server where databases may be created) and
// TEST_REDIS_URL (a Redis >= 7 URL with ?protocol=resp3): scripts/services.sh
// starts both and exports them. Without them, `clusterSkip` says why, and the
// multi-node tests are skipped (visibly).
//
// Nodes of different test files share TEST_REDIS_URL, and Redis pub/sub knows
// no databases: every test uses its own tenant, so no broadcast, room or
// presence count of one cluster can leak into another's assertions.

import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, after, afterEach } from 'node:test';
import { uniqueId, until } from './clients.mjs';
import { createPostgresDatabase, disposeAfter, spawnServer } from './server.mjs';

/** false when the multi-node suite can run, otherwise the reason it is skipped. */
export const clusterSkip = (() => {
  const missing = ['TEST_PG_URL', 'TEST_REDIS_URL'].filter((key) => !process.env[key]);
  if (missing.length === 0) return false;
  return `${missing.join(' and ')} not set: the multi-node suite needs PostgreSQL and Redis ` +
    '(`source scripts/services.sh` starts throwaway ones; scripts/test does)';
})();

/** A fresh tenant name, so concurrent clusters on one Redis never meet. */
export const freshTenant = () => uniqueId('tenant');

/**
 * Starts `nodes` servers (default 3) on one fresh PostgreSQL database and one
 * Redis (TEST_REDIS_URL unless `redisUrl`), all at once (so migrations race,
 * as when docker compose starts every node together), same JWT secret.
 * Returns { nodes, database, redisUrl, node(i), kill(i), restart(i), logs(), dispose() }.
 */
export async function spawnCluster({ nodes = 3, redisUrl = process.env.TEST_REDIS_URL, args = [], env = {} } = {}) {
  const database = await createPostgresDatabase(process.env.TEST_PG_URL);
  // Each node's dispose() must not drop the shared database: the cluster does, once.
  const shared = { ...database, async drop() {} };
  const options = { database: shared, args, env: { REDIS_URL: redisUrl, ...env } };
  const started = await Promise.allSettled(Array.from({ length: nodes }, () => spawnServer(options)));
  const servers = started.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.dispose()));
    await database.drop();
    throw failed.reason;
  }
  const cluster = {
    nodes: servers,
    database,
    redisUrl,
    node: (i) => servers[i],
    /** kill -9 of node i: no graceful shutdown, its sockets just drop. */
    kill: (i) => servers[i].kill(),
    /** Starts node i again (same port, same database, same Redis). */
    restart: (i) => servers[i].restart(),
    logs() {
      return servers.map((s, i) => `--- node ${i} (${s.url}) ---\n${s.logs()}`).join('\n');
    },
    async dispose() {
      await Promise.all(servers.map((s) => s.dispose()));
      await database.drop();
    },
  };
  return cluster;
}

/**
 * One cluster for a describe block (like useServer): started in before()
 * (unless clusterSkip: give each test `{ skip: clusterSkip }`),
 * disposed in after(); every test's clients are closed after it, and the
 * nodes' output is printed for a failing test (or with TEST_LOG).
 */
export function useCluster(options = {}) {
  const holder = { cluster: null };
  const marks = [];
  before(async () => {
    // Without PostgreSQL and Redis the tests are skipped (clusterSkip): start nothing.
    if (!clusterSkip) holder.cluster = await spawnCluster(options);
  });
  afterEach(async (t) => {
    const { closeAllClients } = await import('./clients.mjs');
    closeAllClients();
    const nodes = holder.cluster?.nodes ?? [];
    if (t.passed === false || process.env.TEST_LOG) {
      const text = nodes.map((s, i) => `--- node ${i} (${s.url}) ---\n${s.logs().slice(marks[i] ?? 0)}`).join('\n');
      process.stderr.write(`\n--- cluster output during "${t.name}" ---\n${text}\n--- end ---\n`);
    }
    nodes.forEach((s, i) => { marks[i] = s.logs().length; });
  });
  after(async () => {
    if (holder.cluster) await holder.cluster.dispose();
  });
  return holder;
}

/** A cluster a single test starts itself, disposed in t.after (output printed on failure). */
export async function spawnClusterFor(t, options = {}) {
  return disposeAfter(t, await spawnCluster(options), 'cluster');
}

// ---------------------------------------------------------------- a private Redis

/** A free TCP port on 127.0.0.1 (bound by the kernel, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true when a Redis on `port` answers PING within `timeout` ms. */
export function redisPing(port, timeout = 500) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (answer) => { clearTimeout(timer); socket.destroy(); resolve(answer); };
    const timer = setTimeout(() => done(false), timeout);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => { data += chunk; if (data.includes('\r\n')) done(data.startsWith('+PONG')); });
    socket.on('error', () => done(false));
  });
}

/**
 * Starts a redis-server of its own (the one scripts/services.sh installs) on a
 * free port, no persistence, in a temp dir. For tests that stop Redis: never
 * stop the shared TEST_REDIS_URL one. Returns { url, port, stop(), start(), dispose() };
 * start() brings it back on the same port.
 */
export async function spawnRedis() {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-redis-test-'));
  const port = await freePort();
  let child = null;
  let output = '';
  const redis = {
    port,
    url: `redis://127.0.0.1:${port}/?protocol=resp3`,
    logs: () => output,
    async start() {
      if (child) return;
      const proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir,
        '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      proc.exited = new Promise((resolve) => proc.on('exit', () => resolve()));
      proc.stdout.on('data', (c) => { output += c; });
      proc.stderr.on('data', (c) => { output += c; });
      const spawnError = new Promise((_, reject) => proc.on('error', (err) => reject(
        new Error(`cannot start redis-server (source scripts/services.sh installs it): ${err.message}`))));
      await Promise.race([spawnError, until(() => redisPing(port), { timeout: 10_000, what: `redis-server on ${port}` })]);
    },
    /** SIGKILL: Redis vanishes at once, as in a crash. */
    async stop() {
      if (!child) return;
      const proc = child;
      child = null;
      proc.kill('SIGKILL');
      await proc.exited;
    },
    async dispose() {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await redis.start();
  return redis;
}
