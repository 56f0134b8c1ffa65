// Helpers of the attack-*.test.mjs files (issue 6): raw Engine.IO/Socket.IO
// peers below socket.io-client (the npm `ws` package, plain TCP, fetch), a
// seeded random generator whose seed is printed on failure, a control client
// that keeps a ping-pong of acks going and reports its latency, the server's
// resident memory, a server running as an unprivileged user, and the checks
// every attack ends with (the process is up, it never panicked).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { connect, makeUser, ok, waitFor } from './clients.mjs';
import { listMessages, openSession } from './rest.mjs';
import { createSqliteDatabase, serverBinary } from './server.mjs';

export const ws = { transports: ['websocket'] };

// ---------------------------------------------------------------- seeded randomness

/**
 * The seed of this run: ATTACK_SEED when set (to replay a failure), else a
 * fixed default, so a run is reproducible either way.
 */
export function attackSeed(fallback = 0x5eed_2026) {
  const fromEnv = process.env.ATTACK_SEED;
  return fromEnv ? Number(fromEnv) >>> 0 : fallback >>> 0;
}

/** mulberry32: a small, fast, seedable PRNG. Returns helpers over it. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  const pick = (list) => list[Math.floor(next() * list.length)];
  const bytes = (n) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 1) out[i] = Math.floor(next() * 256);
    return out;
  };
  const chance = (p) => next() < p;
  return { seed, next, int, pick, bytes, chance };
}

/**
 * Runs `fn` and, if it throws, prefixes the error with the seed and how to
 * replay it, so the failure can be reproduced.
 */
export async function withSeed(seed, fn) {
  try {
    return await fn();
  } catch (err) {
    err.message = `[seed ${seed}: replay with ATTACK_SEED=${seed}] ${err.message}`;
    throw err;
  }
}

// ---------------------------------------------------------------- the server process

/** The server process still runs and never printed a Rust panic. */
export function assertServerHealthy(server, context = '') {
  assert.equal(isAlive(server), true, `${context} the server process exited`);
  assert.ok(!/panicked/.test(server.logs()), `${context} the server panicked:\n${panicLines(server.logs())}`);
}

function panicLines(logs) {
  return logs.split('\n').filter((l) => /panicked|RUST_BACKTRACE|stack backtrace/.test(l)).slice(0, 20).join('\n');
}

export function isAlive(server) {
  try {
    process.kill(server.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** VmRSS of a process in KiB, from /proc/<pid>/status. */
export function vmRssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  assert.ok(m, `no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Open file descriptors of a process (sockets included). */
export function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

// ---------------------------------------------------------------- an unprivileged server

const NOBODY = { uid: 65534, gid: 65534 };

/**
 * A wrapper executable that starts the server binary as `nobody` (setpriv
 * execs in place, so the pid the harness sees is the server's own and its
 * signals reach it). Returns { bin, dispose }.
 */
export function nobodyServerBinary() {
  const real = serverBinary();
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-nobody-bin-'));
  chmodSync(dir, 0o755);
  const bin = path.join(dir, 'switchboard-as-nobody');
  writeFileSync(bin, `#!/bin/sh\nexec setpriv --reuid=${NOBODY.uid} --regid=${NOBODY.gid} --clear-groups -- ${JSON.stringify(real)} "$@"\n`);
  chmodSync(bin, 0o755);
  return { bin, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** True when this process may start another as `nobody` (it is root and setpriv exists). */
export function canDropPrivileges() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A SQLite database in a directory owned by `nobody` (mode 0755), for a server
 * run as nobody: { url, dbPath, dir, drop }. Always SQLite, whatever
 * TEST_DATABASE_URL says: the fault it serves is a file-permission one.
 */
export function nobodySqliteDatabase() {
  const db = createSqliteDatabase();
  chownSync(db.dir, NOBODY.uid, NOBODY.gid);
  chmodSync(db.dir, 0o755);
  return db;
}

/** chmod the database directory and every file in it (db, -wal, -shm, -journal). */
export function chmodDatabase(db, { dirMode, fileMode }) {
  if (!existsSync(db.dir)) return; // already dropped
  for (const name of readdirSync(db.dir)) chmodSync(path.join(db.dir, name), fileMode);
  chmodSync(db.dir, dirMode);
}

// ---------------------------------------------------------------- control clients

/**
 * Keeps a ping-pong of acks going on `socket` (one request at a time, back to
 * back) with `event`/`payload`, until stop(). Records each round trip.
 * stop() resolves with { count, max, p50, p99, failures, disconnects, latencies }.
 * A failure is an ack that did not come within `ackTimeout` or was not ok
 * (unless `acceptError`).
 */
export function ackPingPong(socket, event, payload, { ackTimeout = 5000, acceptError = false, pause = 5 } = {}) {
  const latencies = [];
  const failures = [];
  let disconnects = 0;
  let running = true;
  const onDisconnect = (reason) => { disconnects += 1; failures.push(`disconnected: ${reason}`); };
  socket.on('disconnect', onDisconnect);
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const ack = await socket.timeout(ackTimeout).emitWithAck(event, payload);
        latencies.push(performance.now() - started);
        if (!acceptError && ack?.ok !== true) failures.push(`not ok: ${JSON.stringify(ack).slice(0, 200)}`);
      } catch (err) {
        failures.push(`no ack within ${ackTimeout} ms (${err.message})`);
        if (!socket.connected) break;
      }
      if (pause) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  })();
  return {
    latencies,
    async stop() {
      running = false;
      await loop;
      socket.off('disconnect', onDisconnect);
      return summarize(latencies, { failures, disconnects });
    },
  };
}

export function summarize(latencies, extra = {}) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
  return {
    count: sorted.length,
    max: sorted.at(-1) ?? NaN,
    p50: at(0.5),
    p99: at(0.99),
    latencies,
    ...extra,
  };
}

/** Asserts the summary of ackPingPong: enough round trips, none failed, bounded latency. */
export function assertResponsive(summary, { minCount = 5, maxMs, p99Ms, what = 'control client' } = {}) {
  const text = `${what}: ${summary.count} acks, p50 ${summary.p50?.toFixed(1)} ms, p99 ${summary.p99?.toFixed(1)} ms, ` +
    `max ${summary.max?.toFixed(1)} ms, failures ${JSON.stringify(summary.failures?.slice(0, 5))}`;
  assert.equal(summary.disconnects ?? 0, 0, `${text}: disconnected`);
  assert.deepEqual(summary.failures ?? [], [], text);
  assert.ok(summary.count >= minCount, `${text}: too few round trips`);
  if (maxMs !== undefined) assert.ok(summary.max <= maxMs, `${text}: max over ${maxMs} ms`);
  if (p99Ms !== undefined) assert.ok(summary.p99 <= p99Ms, `${text}: p99 over ${p99Ms} ms`);
  return text;
}

/**
 * A control pair: a customer with their own session and the agent who took
 * it, both connected over websocket, plus a ping-pong on the customer
 * (`join-session` of their session: a database read under the session lock).
 */
export async function controlPair(server, { tenant } = {}) {
  const customer = makeUser('customer', { tenant });
  const session = await openSession(server, customer, { message: 'control' });
  const customerSocket = await connect(server, customer.token, ws);
  await ok(customerSocket, 'join-session', { sessionId: session.id });
  const agent = makeUser('agent', { tenant });
  const agentSocket = await connect(server, agent.token, ws);
  await ok(agentSocket, 'join-session', { sessionId: session.id });
  await waitFor(customerSocket, 'session-updated');
  return { customer, agent, session, customerSocket, agentSocket };
}

/** Every stored message of every session id given, by session: for before/after comparisons. */
export async function snapshotMessages(server, user, sessionIds) {
  const out = {};
  for (const id of sessionIds) out[id] = await listMessages(server, user, id);
  return out;
}

// ---------------------------------------------------------------- raw peers

/** Engine.IO v4 URL of the server for a transport. */
export function eioUrl(server, transport, extra = '') {
  const base = server.url.replace(/^http/, transport === 'websocket' ? 'ws' : 'http');
  return `${base}/socket.io/?EIO=4&transport=${transport}${extra}`;
}

/**
 * A raw Engine.IO websocket (npm `ws`), below socket.io-client. Resolves once
 * the Engine.IO OPEN packet arrived: { socket, open, frames, closed, send, waitFrame }.
 * `frames` records every frame received; `closed` resolves on close.
 */
export function rawEngineSocket(server, { headers, timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(eioUrl(server, 'websocket'), { headers, handshakeTimeout: timeout });
    const frames = [];
    const waiters = new Set();
    let closeInfo = null;
    const closed = new Promise((res) => socket.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      res(closeInfo);
    }));
    socket.on('error', () => {}); // reported through close
    socket.on('message', (data, isBinary) => {
      const frame = isBinary ? data : data.toString();
      frames.push(frame);
      if (frame === '2') socket.send('3'); // Engine.IO ping -> pong
      for (const w of waiters) w(frame);
    });
    const timer = setTimeout(() => { socket.terminate(); reject(new Error('no Engine.IO open packet')); }, timeout);
    const waitFrame = (predicate, ms = 3000) => new Promise((res, rej) => {
      const found = frames.find((f) => typeof f === 'string' && predicate(f));
      if (found) { res(found); return; }
      const t = setTimeout(() => { waiters.delete(w); rej(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(frames.slice(-5)).slice(0, 500)}`)); }, ms);
      const w = (f) => { if (typeof f === 'string' && predicate(f)) { clearTimeout(t); waiters.delete(w); res(f); } };
      waiters.add(w);
    });
    waitFrame((f) => f.startsWith('0{'), timeout).then((openFrame) => {
      clearTimeout(timer);
      resolve({
        socket,
        open: JSON.parse(openFrame.slice(1)),
        frames,
        closed,
        get closeInfo() { return closeInfo; },
        get isOpen() { return socket.readyState === WebSocket.OPEN; },
        send: (data, options) => new Promise((res) => {
          if (socket.readyState !== WebSocket.OPEN) { res(false); return; }
          socket.send(data, options ?? {}, (err) => res(!err));
        }),
        waitFrame,
      });
    }, (err) => { clearTimeout(timer); reject(err); });
  });
}

/** Connects a raw Engine.IO websocket to /chat with a token; resolves with it once CONNECT came back. */
export async function rawChatSocket(server, token, options) {
  const raw = await rawEngineSocket(server, options);
  await raw.send(`40/chat,${JSON.stringify({ token })}`);
  await raw.waitFrame((f) => f.startsWith('40/chat,'));
  return raw;
}

/**
 * One HTTP request on a connection of its own (no keep-alive pool: a server
 * that closes a connection after a bad request must not fail the next
 * request). Resolves with { status, text, headers }; rejects on network errors
 * with the cause in the message.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', (err) => reject(new Error(`${method} ${url}: response error ${err.code ?? ''} ${err.message}`)));
    });
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeout} ms`)));
    req.on('error', (err) => reject(new Error(`${method} ${url.slice(0, 200)}: ${err.code ?? ''} ${err.message}`)));
    if (body !== undefined) req.end(body); else req.end();
  });
}

/** An Engine.IO polling handshake; resolves with the sid. */
export async function pollingHandshake(server, { headers } = {}) {
  const res = await httpRequest(eioUrl(server, 'polling'), { headers });
  assert.equal(res.status, 200, `polling handshake: ${res.status} ${res.text}`);
  const open = JSON.parse(res.text.slice(res.text.indexOf('{')));
  return open.sid;
}

/** POSTs a raw body to a polling session. Resolves with { status, text }. */
export async function pollingPost(server, sid, body, { headers } = {}) {
  return httpRequest(eioUrl(server, 'polling', `&sid=${encodeURIComponent(sid)}`), {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...(headers ?? {}) },
  });
}

/** GET on a polling session (what the server has queued), bounded in time. */
export async function pollingGet(server, sid, timeout = 3000) {
  try {
    return await httpRequest(eioUrl(server, 'polling', `&sid=${encodeURIComponent(sid)}`), { timeout });
  } catch (err) {
    return { status: 0, text: String(err) };
  }
}

/**
 * A plain TCP connection to the server that writes `bytes` (or nothing) and
 * then holds the connection open. Resolves once connected: { socket, close }.
 */
export function rawTcp(server, bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port });
    socket.on('error', () => {});
    socket.setTimeout(0);
    socket.once('connect', () => {
      if (bytes) socket.write(bytes);
      resolve({ socket, close: () => socket.destroy() });
    });
    socket.once('error', reject);
  });
}

/** Whether a path exists: for test set-ups that need an optional tool. */
export const exists = existsSync;

// ---------------------------------------------------------------- a control client in its own thread

/**
 * A control client on its own event loop (a worker thread), so the latency it
 * measures is the server's, not this process's busy event loop: it connects
 * with `token` over websocket and keeps a ping-pong of `event`/`payload` acks
 * going until stop(). stop() resolves with the ackPingPong summary, plus
 * `events`: how many of each event it received.
 */
export function controlWorker(server, { token, event, payload, ackTimeout = 5000 }) {
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { attackControl: { url: server.url, token, event, payload, ackTimeout } },
  });
  const ready = new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m) => {
      if (m.type === 'ready') resolve();
      if (m.type === 'error') reject(new Error(m.message));
    });
  });
  let stopping = null;
  return {
    ready,
    /** Stops the ping-pong and the thread; resolves with the summary (idempotent). */
    stop() {
      stopping ??= (async () => {
        const summary = new Promise((resolve, reject) => {
          worker.on('message', (m) => { if (m.type === 'summary') resolve(m.summary); });
          worker.once('error', reject);
          setTimeout(() => reject(new Error('the control worker did not report within 10 s')), 10_000).unref();
        });
        worker.postMessage('stop');
        try {
          return await summary;
        } finally {
          await worker.terminate();
        }
      })();
      return stopping;
    },
  };
}

async function runControl({ url, token, event, payload, ackTimeout }) {
  const socket = io(`${url}/chat`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 5000 });
  const events = {};
  socket.onAny((name) => { events[name] = (events[name] ?? 0) + 1; });
  try {
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: `control client could not connect: ${err.message}` });
    return;
  }
  const pinger = ackPingPong(socket, event, payload, { ackTimeout });
  parentPort.postMessage({ type: 'ready' });
  parentPort.once('message', async () => {
    const summary = await pinger.stop();
    socket.disconnect();
    parentPort.postMessage({ type: 'summary', summary: { ...summary, events } });
  });
}

if (!isMainThread && workerData?.attackControl) {
  runControl(workerData.attackControl);
}
