// Starts the real Switchboard binary for the unit tests (vitest) and the
// end-to-end test (node --test): a fresh SQLite database (and attachments
// store) in a temporary directory, port 0 (or a given port, for restarts),
// development mode, and readiness read from the `listening on
// http://IP:PORT` log line.
//
// The binary is ../target/debug/switchboard (`cargo build` at the
// workspace root) unless SWITCHBOARD_BIN says otherwise.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const webClientDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function serverBinary() {
  return process.env.SWITCHBOARD_BIN ?? path.resolve(webClientDir, '../target/debug/switchboard');
}

const READY = /listening on http:\/\/(\S+?):(\d+)/;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * @typedef {object} StartOptions
 * @property {number} [port] 0 (any free port) unless restarting on a known one
 * @property {string} [dataDir] where db.sqlite lives; a new temporary directory by default
 * @property {string} [staticDir] --static-dir (the built client, for the e2e test)
 * @property {string} [jwtSecret]
 * @property {string[]} [extraArgs]
 * @property {Record<string, string>} [env] more environment for the server (WEBHOOK_RETRY_SCHEDULE=1,1, …)
 * @property {number} [readyTimeoutMs]
 * @property {boolean} [ownsDataDir] remove dataDir on stop()
 */

export class SwitchboardServer {
  /** @param {Required<Pick<StartOptions, 'dataDir' | 'jwtSecret'>> & StartOptions} options */
  constructor(options) {
    this.options = options;
    this.dataDir = options.dataDir;
    /** @type {import('node:child_process').ChildProcess | null} */
    this.child = null;
    this.port = options.port ?? 0;
    this.url = '';
    /** Everything the server printed, for failure messages. */
    this.log = '';
  }

  get databaseUrl() {
    return `sqlite://${path.join(this.dataDir, 'db.sqlite')}?mode=rwc`;
  }

  /** Spawns the binary and resolves once it listens. */
  async spawn() {
    const binary = serverBinary();
    if (!existsSync(binary)) {
      throw new Error(`Switchboard binary not found at ${binary}: run \`cargo build\` in the workspace root first (or set SWITCHBOARD_BIN).`);
    }
    const args = [
      '--host', '127.0.0.1',
      '--port', String(this.port),
      '--database-url', this.databaseUrl,
      '--jwt-secret', this.options.jwtSecret,
      '--dev',
      ...(this.options.staticDir ? ['--static-dir', this.options.staticDir] : []),
      ...(this.options.extraArgs ?? []),
    ];
    this.log += `--- spawning ${binary} ${args.join(' ').replace(this.options.jwtSecret, '<secret>')}\n`;
    const child = spawn(binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NO_COLOR: '1',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
        // Uploads (v1.3) next to the database, not in ./attachments of the
        // working directory (an environment variable, not a flag: an older
        // binary ignores it).
        ATTACHMENTS_STORE: `file://${path.join(this.dataDir, 'attachments')}`,
        ...this.options.env,
      },
    });
    this.child = child;
    const timeoutMs = this.options.readyTimeoutMs ?? 20_000;
    await new Promise((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => fail(new Error(`server did not log "listening on" within ${timeoutMs} ms`)), timeoutMs);
      /** @param {Error} err */
      const fail = (err) => {
        clearTimeout(timer);
        reject(new Error(`${err.message}\n--- server output ---\n${this.log}`));
      };
      /** @param {Buffer} chunk */
      const onData = (chunk) => {
        const text = chunk.toString('utf8').replace(ANSI, '');
        this.log += text;
        if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
        buffered += text;
        const match = READY.exec(buffered);
        if (match) {
          clearTimeout(timer);
          buffered = '';
          this.port = Number(match[2]);
          const host = match[1] === '0.0.0.0' ? '127.0.0.1' : match[1];
          this.url = `http://${host}:${this.port}`;
          resolve(undefined);
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', fail);
      child.once('exit', (code, signal) => fail(new Error(`server exited early (code ${code}, signal ${signal})`)));
    });
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
    return this;
  }

  /** Ends the process with `signal` and waits for it to be gone. */
  async kill(signal = /** @type {NodeJS.Signals} */ ('SIGKILL')) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = null;
  }

  /** Kills (SIGKILL) and starts again on the same port with the same database. */
  async restart() {
    await this.kill('SIGKILL');
    this.options = { ...this.options, port: this.port };
    // The port is normally free at once; retry briefly in case it is not.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.spawn();
      } catch (err) {
        if (attempt >= 5 || !/exited early/.test(/** @type {Error} */ (err).message)) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  /** Graceful stop and cleanup of the temporary directory. */
  async stop() {
    await this.kill('SIGTERM');
    if (this.options.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /**
   * A development token from `POST /api/dev/token`.
   * @param {{ sub: string, role: 'customer' | 'agent' | 'admin', name?: string, tenant?: string }} claims
   * @returns {Promise<string>}
   */
  async token(claims) {
    const response = await fetch(`${this.url}/api/dev/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(claims),
    });
    if (!response.ok) throw new Error(`POST /api/dev/token: HTTP ${response.status} ${await response.text()}`);
    const body = /** @type {{ token: string }} */ (await response.json());
    return body.token;
  }

  /**
   * A JSON REST call with a bearer token; throws on a non-2xx status.
   * @param {string} method
   * @param {string} pathname
   * @param {string} token
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async rest(method, pathname, token, body) {
    const response = await fetch(`${this.url}${pathname}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${pathname}: HTTP ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

/**
 * Starts a server on a fresh database.
 * @param {StartOptions} [options]
 */
export async function startServer(options = {}) {
  const ownsDataDir = !options.dataDir;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'switchboard-web-'));
  const server = new SwitchboardServer({
    jwtSecret: `test-secret-${Math.random().toString(36).slice(2)}-0123456789abcdef`,
    ...options,
    dataDir,
    ownsDataDir,
  });
  try {
    return await server.spawn();
  } catch (err) {
    await server.kill();
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
