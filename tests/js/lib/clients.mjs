// Real socket.io-client v4 sockets on the /chat namespace, tokens, and the
// waiting helpers every test uses.
//
// Every socket records the events it receives from the moment it is created,
// so an event that arrives before the test starts waiting (e.g. `connected`,
// which arrives together with the CONNECT packet) is not lost. waitFor()
// consumes the oldest recorded matching event; expectNo() fails on any
// unconsumed matching event, recorded or arriving within its window. Drain
// events a test does not care about with drain() before asserting absence.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import { JWT_SECRET } from './server.mjs';

const openSockets = new Set();

/** Closes every socket the current test opened (useServer/spawnServerFor call it after each test). */
export function closeAllClients() {
  for (const socket of openSockets) socket.disconnect();
  openSockets.clear();
}

// ---------------------------------------------------------------- tokens

let counter = 0;
/** A short id that is unique within this test process, readable in server logs. */
export function uniqueId(prefix = 'u') {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

/**
 * Signs a JWT (HS256, exp in 1 h unless the claims carry `exp` or opts.noExp).
 * Claims are passed through verbatim, so a test can put anything in them.
 * opts: { algorithm, expiresIn, noExp, header }
 */
export function mintToken(claims, secret = JWT_SECRET, opts = {}) {
  const payload = { ...claims };
  const signOptions = { algorithm: opts.algorithm ?? 'HS256' };
  if (opts.header) signOptions.header = opts.header;
  if (!opts.noExp && payload.exp === undefined) signOptions.expiresIn = opts.expiresIn ?? '1h';
  return jwt.sign(payload, secret, signOptions);
}

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A token with `alg: none` and no signature (jsonwebtoken refuses to make one). */
export function unsignedToken(claims) {
  const now = Math.floor(Date.now() / 1000);
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ exp: now + 3600, iat: now, ...claims })}.`;
}

/** An HS* token built by hand, e.g. signed with a public key's PEM text as the HMAC secret. */
export function hmacToken(claims, secret, alg = 'HS256') {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64url({ alg, typ: 'JWT' })}.${b64url({ exp: now + 3600, iat: now, ...claims })}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  return `${body}.${createHmac(hash, secret).update(body).digest('base64url')}`;
}

/**
 * A test user: { sub, role, tenant, name, token, ref }, where ref is the UserRef
 * the server should report for them.
 */
export function makeUser(role = 'customer', { tenant, name, sub, secret, claims = {} } = {}) {
  const id = sub ?? uniqueId(role);
  const displayName = name === undefined ? `${role} ${id}` : name;
  const tokenClaims = { sub: id, role, ...claims };
  if (displayName !== null) tokenClaims.name = displayName;
  if (tenant !== undefined) tokenClaims.tenant = tenant;
  return {
    sub: id,
    role,
    tenant: tenant ?? 'default',
    name: displayName,
    token: mintToken(tokenClaims, secret),
    ref: { id: String(id), role, name: displayName },
  };
}

// ---------------------------------------------------------------- sockets

function record(socket) {
  socket.received = [];
  socket.waiters = new Set();
  socket.onAny((event, ...args) => {
    const entry = { event, payload: args[0], args, at: Date.now(), consumed: false };
    socket.received.push(entry);
    for (const waiter of socket.waiters) {
      if (!entry.consumed && waiter.matches(entry)) waiter.take(entry);
    }
  });
}

/**
 * Opens a socket on `${server.url}/chat`.
 * `token` goes into `auth.token` (undefined: no auth at all). options:
 * - transports: e.g. ['websocket'] (default: socket.io's polling then upgrade)
 * - auth, query, extraHeaders: passed to io() (auth replaces the token's auth object)
 * - reconnection: default false, so a failed test cannot leave a retrying socket
 * - waitConnected: default true: resolve only once the `connected` event arrived
 *   (it stays recorded for waitFor); false resolves on the CONNECT packet itself
 * Resolves with the connected socket; rejects with the connect_error's Error.
 */
export function connect(server, token, options = {}) {
  const {
    transports, auth, query, extraHeaders, reconnection = false, timeout = 5000, waitConnected = true, ...rest
  } = options;
  const socket = io(`${server.url}/chat`, {
    forceNew: true,
    reconnection,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    timeout,
    ...(transports ? { transports } : {}),
    ...(auth !== undefined ? { auth } : token !== undefined ? { auth: { token } } : {}),
    ...(query ? { query } : {}),
    ...(extraHeaders ? { extraHeaders } : {}),
    ...rest,
  });
  record(socket);
  openSockets.add(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.disconnect();
      reject(new Error(`socket did not connect within ${timeout + 1000} ms`));
    }, timeout + 1000);
    const onConnect = () => {
      cleanup();
      if (!waitConnected) { resolve(socket); return; }
      // Resolve once `connected` arrived (without consuming it): the server has
      // set the socket up by then. Events emitted before it are the subject of
      // a test of their own (connect.test.mjs).
      const seen = () => socket.received.some((e) => e.event === 'connected');
      if (seen()) { resolve(socket); return; }
      const deadline = setTimeout(() => {
        socket.offAny(onAny);
        reject(new Error(`socket connected but no "connected" event within ${timeout} ms`));
      }, timeout);
      const onAny = (event) => {
        if (event !== 'connected') return;
        clearTimeout(deadline);
        socket.offAny(onAny);
        resolve(socket);
      };
      socket.onAny(onAny);
    };
    const onError = (err) => { cleanup(); socket.disconnect(); reject(err); };
    function cleanup() {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** Connects and resolves with the `connect_error` Error; fails if the connection succeeds. */
export async function connectError(server, token, options = {}) {
  let socket;
  try {
    socket = await connect(server, token, options);
  } catch (err) {
    return err;
  }
  const got = socket.received.map((e) => e.event);
  socket.disconnect();
  assert.fail(`expected connect_error but the socket connected (events: ${JSON.stringify(got)})`);
}

/**
 * Resolves with the payload (first argument) of the oldest unconsumed `event`
 * the socket received or receives, that passes `filter`. Rejects after `timeout`.
 */
export function waitFor(socket, event, { timeout = 3000, filter = () => true } = {}) {
  const matches = (entry) => entry.event === event && filter(entry.payload, entry);
  const already = socket.received.find((entry) => !entry.consumed && matches(entry));
  if (already) {
    already.consumed = true;
    return Promise.resolve(already.payload);
  }
  return new Promise((resolve, reject) => {
    const waiter = {
      matches,
      take(entry) {
        entry.consumed = true;
        socket.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(entry.payload);
      },
    };
    const timer = setTimeout(() => {
      socket.waiters.delete(waiter);
      const seen = socket.received.filter((e) => e.event === event).map((e) => e.payload);
      reject(new Error(`timed out after ${timeout} ms waiting for "${event}" on socket ${socket.id ?? '(not connected)'}; ` +
        `"${event}" events seen: ${JSON.stringify(seen).slice(0, 2000)}`));
    }, timeout);
    socket.waiters.add(waiter);
  });
}

/**
 * Asserts that no unconsumed `event` (passing `filter`) was received, nor arrives
 * within `ms`. The only timer-based wait allowed: it checks absence.
 */
export async function expectNo(socket, event, ms = 300, { filter = () => true } = {}) {
  const matching = () => socket.received.filter((e) => !e.consumed && e.event === event && filter(e.payload, e));
  let found = matching();
  if (found.length === 0) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    found = matching();
  }
  assert.equal(found.length, 0, `expected no "${event}" but got ${JSON.stringify(found.map((e) => e.payload)).slice(0, 2000)}`);
}

/** Marks every recorded event (or every recorded `event`) as consumed. */
export function drain(socket, event) {
  for (const entry of socket.received) {
    if (event === undefined || entry.event === event) entry.consumed = true;
  }
}

/** Payloads of every `event` the socket received so far (consumed or not). */
export function received(socket, event) {
  return socket.received.filter((e) => e.event === event).map((e) => e.payload);
}

/** Emits with an acknowledgement and resolves with it. `args` may be empty (no payload). */
export async function emitAck(socket, event, ...args) {
  try {
    return await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);
  } catch (err) {
    throw new Error(`no acknowledgement within ${ACK_TIMEOUT_MS} ms for "${event}" ${JSON.stringify(args).slice(0, 300)} ` +
      `(socket ${socket.connected ? 'still connected' : 'disconnected'}; events received since: ` +
      `${JSON.stringify(socket.received.slice(-5).map((e) => [e.event, e.payload])).slice(0, 1500)})`, { cause: err });
  }
}

const ACK_TIMEOUT_MS = 3000;

/** Asserts an ok ack and returns its data. */
export async function ok(socket, event, ...args) {
  const ack = await emitAck(socket, event, ...args);
  assert.equal(ack?.ok, true, `"${event}" ${JSON.stringify(args).slice(0, 300)} was refused: ${JSON.stringify(ack)}`);
  return ack.data;
}

/**
 * Emits an event that must fail: checks the ack `{ ok: false, error: { code, message } }`
 * and the `exception` event `{ status: 'error', message, code, event }` on the same socket,
 * and that the socket is still connected. `code` may be a list of acceptable codes.
 * Returns the ack's error.
 */
export async function expectError(socket, code, event, ...args) {
  const codes = Array.isArray(code) ? code : [code];
  drain(socket, 'exception');
  const ack = await emitAck(socket, event, ...args);
  const what = `"${event}" ${JSON.stringify(args).slice(0, 200)}`;
  assert.equal(ack?.ok, false, `${what} should fail with ${codes.join('|')} but was acked ${JSON.stringify(ack).slice(0, 500)}`);
  assert.equal(typeof ack.error, 'object', `${what}: ack has no error object: ${JSON.stringify(ack)}`);
  assert.ok(codes.includes(ack.error.code), `${what}: expected code ${codes.join('|')}, got ${JSON.stringify(ack.error)}`);
  assert.equal(typeof ack.error.message, 'string', `${what}: error.message should be a string: ${JSON.stringify(ack.error)}`);
  assert.ok(ack.error.message.length > 0, `${what}: error.message is empty`);
  const exception = await waitFor(socket, 'exception', { filter: (p) => p?.event === event });
  assert.deepEqual(Object.keys(exception).sort(), ['code', 'event', 'message', 'status'],
    `${what}: exception payload should be { status, message, code, event }: ${JSON.stringify(exception)}`);
  assert.equal(exception.status, 'error');
  assert.equal(exception.code, ack.error.code, `${what}: exception code differs from the ack's`);
  assert.equal(typeof exception.message, 'string');
  assert.ok(exception.message.length > 0);
  assert.equal(socket.connected, true, `${what}: the socket was disconnected`);
  return ack.error;
}

/** Closes a socket and resolves once it is disconnected on the client side. */
export function disconnect(socket) {
  openSockets.delete(socket);
  socket.disconnect();
}

/**
 * Polls `check` (sync or async, truthy when done; a throw counts as not yet)
 * every `every` ms until it holds or `timeout` ms pass; resolves with its
 * last value or throws naming `what`. For conditions no event announces (a
 * file, a process, a REST state): it returns as soon as the condition holds.
 */
export async function until(check, { timeout = 5000, every = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not hold within ${timeout} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 500)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
