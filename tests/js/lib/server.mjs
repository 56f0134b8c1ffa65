// Spawns the real Switchboard binary for a test file, on 127.0.0.1 and a free
// port, with a fresh database, and stops it again whatever happens.
//
// The server's stdout/stderr are captured; they are printed only when a test
// fails (or always with TEST_LOG=1), so a green run stays silent.

import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after, afterEach } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
const testsJsDir = path.resolve(here, '..');

/** The secret every server is started with unless a test says otherwise. */
export const JWT_SECRET = 'switchboard-test-secret-7f3a9c1e5b2d4f60';

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** Environment variables of the developer's shell that would change how the server starts. */
const SERVER_ENV_KEYS = [
  'HOST', 'PORT', 'DATABASE_URL', 'JWT_SECRET', 'JWT_PUBLIC_KEY_FILE', 'JWT_ALGORITHM',
  'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_LEEWAY_SECONDS', 'CORS_ORIGINS', 'MESSAGE_MAX_LENGTH',
  'SEND_RATE_PER_SECOND', 'SEND_BURST', 'TYPING_RATE_PER_SECOND', 'WS_MAX_MESSAGE_SIZE',
  'STATIC_DIR', 'LOG_FORMAT', 'SWITCHBOARD_DEV', 'REDIS_URL',
  // v1.3 attachments (§8), and the AWS variables an S3 store reads: a test that
  // wants them passes them in `env`.
  'ATTACHMENTS_STORE', 'ATTACHMENT_MAX_BYTES', 'ATTACHMENT_MAX_PIXELS', 'ATTACHMENT_TYPES',
  'ATTACHMENT_URL_TTL_SECONDS', 'ATTACHMENT_URL_KEY', 'ATTACHMENT_UNSENT_SECONDS', 'ATTACHMENT_SWEEP_SECONDS',
  'PUBLIC_URL', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE',
  // v1.3 server API and webhooks (§9): a test that wants them passes them in `env`.
  'WEBHOOK_ALLOW_PRIVATE_NETWORKS', 'WEBHOOK_RETRY_SCHEDULE', 'WEBHOOK_TIMEOUT_SECONDS', 'WEBHOOK_RETENTION_DAYS',
  'WEBHOOK_CONCURRENCY', 'WEBHOOK_PER_ENDPOINT',
  'SERVER_API_RATE_PER_SECOND', 'SERVER_API_BURST',
];

export function serverBinary() {
  return process.env.SWITCHBOARD_BIN
    ? path.resolve(process.env.SWITCHBOARD_BIN)
    : path.resolve(testsJsDir, '../../target/debug/switchboard');
}

/**
 * A fresh database for one server. SQLite by default: a new file in a new temp dir.
 *
 * TEST_DATABASE_URL runs the suite against another database:
 * - unset, or `sqlite:...`: a fresh SQLite file per server (the base is ignored:
 *   a shared file would not be fresh);
 * - `postgres://...`: a new database `sb_<random>` on that server (the URL's own
 *   database is only used to run CREATE/DROP DATABASE), dropped by drop().
 *   scripts/services.sh starts a throwaway cluster and exports its URL as TEST_PG_URL.
 */
export async function freshDatabase() {
  const base = process.env.TEST_DATABASE_URL;
  if (base && /^postgres(ql)?:/.test(base)) {
    return createPostgresDatabase(base);
  }
  return createSqliteDatabase();
}

/** A fresh SQLite file in a new temp dir, deleted by drop(): { url, dbPath, dir, drop }. */
export function createSqliteDatabase() {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-test-'));
  const dbPath = path.join(dir, 'db.sqlite');
  return {
    url: `sqlite://${dbPath}?mode=rwc`,
    dbPath,
    dir,
    async drop() { rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Runs one statement on the maintenance database of `baseUrl` (a short-lived connection). */
async function onMaintenanceDb(baseUrl, sql) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * CREATE DATABASE sb_<random> on the PostgreSQL server of `baseUrl`; resolves
 * with { url, dbPath: null, name, drop() }. drop() disconnects whoever is still
 * connected (WITH (FORCE): a killed node's connections may linger) and drops it.
 */
export async function createPostgresDatabase(baseUrl) {
  const name = `sb_${Date.now().toString(36)}_${randomBytes(5).toString('hex')}`;
  await onMaintenanceDb(baseUrl, `CREATE DATABASE ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    dbPath: null,
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await onMaintenanceDb(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

/**
 * Starts the server and resolves once it printed its readiness line.
 *
 * options:
 * - args: extra command-line flags, e.g. ['--message-max-length', '10']
 * - env: extra environment variables for the server
 * - jwtSecret: the HS256 secret (default JWT_SECRET); null starts it without one
 *   (development mode)
 * - database: { url, dbPath, drop } to reuse (default: a fresh one)
 * - port: a port to bind instead of 0 (restart() uses the previous one)
 *
 * Returns { url, port, dbPath, databaseUrl, stop(), kill(), restart(), logs(), exited }.
 */
export async function spawnServer(options = {}) {
  const { args = [], env = {}, port = 0 } = options;
  const jwtSecret = options.jwtSecret === undefined ? JWT_SECRET : options.jwtSecret;
  const database = options.database ?? (options.dbPath
    ? { url: `sqlite://${options.dbPath}?mode=rwc`, dbPath: options.dbPath, async drop() {} }
    : await freshDatabase());

  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(`server binary not found at ${bin}: run \`cargo build\` in the workspace or set SWITCHBOARD_BIN`);
  }

  const childEnv = { ...process.env };
  for (const key of SERVER_ENV_KEYS) delete childEnv[key];
  Object.assign(childEnv, { NO_COLOR: '1', RUST_BACKTRACE: '1' });
  if (jwtSecret !== null) childEnv.JWT_SECRET = jwtSecret;
  Object.assign(childEnv, env);

  const argv = [
    '--host', '127.0.0.1',
    '--port', String(port),
    '--database-url', database.url,
    ...args,
  ];

  let output = '';
  const child = spawn(bin, argv, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let onLine = () => {};
  let pendingStdout = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    output += chunk;
    pendingStdout += chunk;
    const lines = pendingStdout.split('\n');
    pendingStdout = lines.pop();
    for (const line of lines) onLine(stripAnsi(line));
  });
  child.stderr.on('data', (chunk) => { output += chunk; });

  const boundPort = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not print "listening on http://…" within ${READY_TIMEOUT_MS} ms\n--- server output ---\n${output}`));
    }, READY_TIMEOUT_MS);
    onLine = (line) => {
      const m = line.match(/listening on http:\/\/([0-9a-fA-F.:[\]]+):(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[2]));
      }
    };
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited before it was ready (code ${code}, signal ${signal}); argv: ${argv.join(' ')}\n--- server output ---\n${output}`));
    });
  });
  onLine = () => {};

  let stopped = false;
  const server = {
    url: `http://127.0.0.1:${boundPort}`,
    port: boundPort,
    dbPath: database.dbPath,
    databaseUrl: database.url,
    jwtSecret,
    exited,
    pid: child.pid,
    logs: () => output,
    /** Resolves with the exit code after SIGTERM (null if it had to be SIGKILLed after 10 s). */
    async stop({ timeout = STOP_TIMEOUT_MS } = {}) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        output += `\n[harness] server did not exit ${timeout} ms after SIGTERM: SIGKILL\n`;
        child.kill('SIGKILL');
      }, timeout);
      const { code } = await exited;
      clearTimeout(timer);
      return code;
    },
    /** SIGKILL: no graceful shutdown at all. */
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    /** Stops (if still running) and starts the server again on the same database and port. */
    async restart(restartOptions = {}) {
      await server.stop();
      const next = await spawnServer({ ...options, ...restartOptions, database, port: boundPort });
      // Keep one handle valid across restarts: the old process is gone.
      const previousOutput = `${server.logs()}\n[harness] --- restarted ---\n`;
      Object.assign(server, next, {
        restart: server.restart,
        dispose: server.dispose,
        logs: () => previousOutput + next.logs(),
      });
      return server;
    },
    /** Stops the server and deletes its database. */
    async dispose() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await database.drop();
    },
  };
  return server;
}

/**
 * One server for a whole test file (or describe block):
 *   const srv = useServer({ args: ['--message-max-length', '10'] });
 *   it('…', async () => { connect(srv.server, …) });
 * Starts it in before(), stops it and deletes its database in after(), closes
 * every client the test opened after each test, and prints the server's output
 * for a failing test (or every test with TEST_LOG set).
 */
export function useServer(options = {}) {
  const holder = { server: null };
  let mark = 0;
  before(async () => {
    holder.server = await spawnServer(options);
  });
  afterEach(async (t) => {
    const { closeAllClients } = await import('./clients.mjs');
    closeAllClients();
    if (holder.server && (t.passed === false || process.env.TEST_LOG)) {
      const logs = holder.server.logs();
      process.stderr.write(`\n--- server output during "${t.name}" ---\n${logs.slice(mark)}\n--- end ---\n`);
    }
    mark = holder.server ? holder.server.logs().length : 0;
  });
  after(async () => {
    if (holder.server) await holder.server.dispose();
  });
  return holder;
}

/**
 * For a server a single test starts itself: stops it in t.after, and prints its
 * output if the test fails or TEST_LOG is set.
 */
export async function spawnServerFor(t, options = {}) {
  return disposeAfter(t, await spawnServer(options), 'server');
}

/**
 * A server of the test's own that verifies tokens with the public half of a
 * fresh key pair (`generateKeyPairSync(type, options)`) given by
 * --jwt-public-key-file, plus `args`. Returns { server, publicKey, privateKey }
 * (PEM strings).
 */
export async function spawnKeyServerFor(t, [type, options], args = []) {
  const { publicKey, privateKey } = generateKeyPairSync(type, {
    ...options,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'public.pem');
  writeFileSync(keyFile, publicKey);
  const server = await spawnServerFor(t, { jwtSecret: null, args: ['--jwt-public-key-file', keyFile, ...args] });
  return { server, publicKey, privateKey };
}

/**
 * Closes the clients and disposes of `processes` (a server or a cluster:
 * { dispose, logs }) in t.after, printing their output if the test failed or
 * TEST_LOG is set. Returns `processes`.
 */
export function disposeAfter(t, processes, what) {
  t.after(async () => {
    const { closeAllClients } = await import('./clients.mjs');
    closeAllClients();
    await processes.dispose();
    if (t.passed === false || process.env.TEST_LOG) {
      process.stderr.write(`\n--- output of the ${what} started by "${t.name}" ---\n${processes.logs()}\n--- end ---\n`);
    }
  });
  return processes;
}
