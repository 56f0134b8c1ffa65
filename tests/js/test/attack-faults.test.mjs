// Issue 6, faults: the database going away under traffic (its SQLite file
// and directory made read-only under a server running as `nobody`, or
// locked by another process), SIGTERM under load and kill -9 under load.
// Events fail with `unavailable` (ack and exception) and /health says 503
// while the database is gone, no socket is dropped, everything recovers by
// itself, and no acked message is ever lost.
//
// restart.test.mjs proves SIGTERM with idle clients (exit 0), catch-up after
// a restart, and SIGKILL after the acks; this file does both under load.
// The PostgreSQL outage is multinode.test.mjs's.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { connect, drain, ok, until, waitFor } from '../lib/clients.mjs';
import { api, listMessages } from '../lib/rest.mjs';
import { createSqliteDatabase, spawnServerFor } from '../lib/server.mjs';
import { activeSession } from '../lib/scenario.mjs';
import {
  assertServerHealthy, canDropPrivileges, chmodDatabase, httpRequest, nobodyServerBinary, nobodySqliteDatabase, ws,
} from '../lib/attack.mjs';

const generous = ['--send-rate-per-second', '100000', '--send-burst', '100000'];

/**
 * Keeps sending from `socket` (`inFlight` messages in flight, each lane back
 * to back) until stop(); records every ack by clientMessageId:
 * { ok: Map(id -> Message), failed: Map(id -> error), unanswered: Set(id) }.
 */
function sender(socket, sessionId, prefix, { ackTimeout = 15_000, inFlight = 3 } = {}) {
  const result = { ok: new Map(), failed: new Map(), unanswered: new Set(), exceptions: [] };
  socket.on('exception', (e) => result.exceptions.push(e));
  let running = true;
  let n = 0;
  const lane = async () => {
    while (running && socket.connected) {
      n += 1;
      const id = `${prefix}-${n}`;
      try {
        const ack = await socket.timeout(ackTimeout).emitWithAck('send-message', { sessionId, content: `${prefix} ${n}`, clientMessageId: id });
        if (ack?.ok) result.ok.set(id, ack.data);
        else result.failed.set(id, ack?.error);
      } catch {
        result.unanswered.add(id);
      }
    }
  };
  const loop = Promise.all(Array.from({ length: inFlight }, lane));
  return { result, async stop() { running = false; await loop; return result; } };
}

/** A few conversations of concurrent senders: { sessions, senders, sockets }. */
async function load(server, conversations = 2) {
  const out = { sessions: [], senders: [], sockets: [] };
  for (let i = 0; i < conversations; i += 1) {
    const a = await activeSession(server);
    out.sessions.push(a);
    out.sockets.push(a.customerSocket, a.agentSocket);
    out.senders.push(sender(a.customerSocket, a.session.id, `c${i}`), sender(a.agentSocket, a.session.id, `a${i}`));
  }
  return out;
}

const acked = (senders) => senders.flatMap((s) => [...s.result.ok.values()]);

describe('the database going away', () => {
  it('fails events with unavailable and /health with 503 while the SQLite file is read-only, drops no socket, and recovers by itself', {
    skip: !canDropPrivileges() && 'needs root and setpriv to run the server as nobody, so that file permissions apply',
  }, async (t) => {
    const { bin, dispose } = nobodyServerBinary();
    t.after(dispose);
    const previousBin = process.env.SWITCHBOARD_BIN;
    process.env.SWITCHBOARD_BIN = bin;
    let server;
    const database = nobodySqliteDatabase();
    try {
      server = await spawnServerFor(t, { database, args: generous });
    } finally {
      if (previousBin === undefined) delete process.env.SWITCHBOARD_BIN; else process.env.SWITCHBOARD_BIN = previousBin;
    }
    t.after(() => chmodDatabase(database, { dirMode: 0o755, fileMode: 0o644 }));
    const traffic = await load(server, 1);
    const { session, customer, customerSocket } = traffic.sessions[0];
    await until(() => acked(traffic.senders).length >= 10, { what: 'traffic flowing' });

    chmodDatabase(database, { dirMode: 0o555, fileMode: 0o444 });
    // The senders keep going; some event must now fail with unavailable, and /health say so.
    const failure = await until(() => traffic.senders.flatMap((s) => [...s.result.failed.values()]).find((e) => e?.code === 'unavailable'),
      { timeout: 15_000, what: 'a send-message failing with unavailable after the database was made read-only' });
    assert.equal(typeof failure.message, 'string');
    await until(() => traffic.senders.some((s) => s.result.exceptions.some((e) => e.code === 'unavailable' && e.event === 'send-message')),
      { what: 'the exception event with code unavailable' });
    const health = await until(async () => { const h = await httpRequest(`${server.url}/health`); return h.status === 503 && h; },
      { timeout: 15_000, what: '/health answering 503' });
    assert.equal(JSON.parse(health.text).status, 'degraded');
    const rest = await api(server, customer, 'POST', `/api/chat/sessions/${session.id}/messages`, { body: { content: 'via REST while down' } });
    assert.equal(rest.status, 503, `REST send while the database is read-only: ${rest.status} ${rest.text}`);
    assert.equal(rest.body?.error?.code, 'unavailable');
    assert.ok(traffic.sockets.every((s) => s.connected), 'a socket was dropped while the database was unavailable');

    chmodDatabase(database, { dirMode: 0o755, fileMode: 0o644 });
    const failedBefore = new Set(traffic.senders.flatMap((s) => [...s.result.failed.keys()]));
    const okBefore = acked(traffic.senders).length;
    await until(() => acked(traffic.senders).length >= okBefore + 10, { timeout: 15_000, what: 'sends succeeding again once permissions came back' });
    await until(async () => (await httpRequest(`${server.url}/health`)).status === 200, { timeout: 15_000, what: '/health answering 200 again' });
    const results = await Promise.all(traffic.senders.map((s) => s.stop()));
    assert.ok(traffic.sockets.every((s) => s.connected), 'a socket was dropped');

    const stored = await listMessages(server, customer, session.id);
    const storedIds = new Set(stored.map((m) => m.clientMessageId));
    for (const r of results) for (const id of r.ok.keys()) assert.ok(storedIds.has(id), `acked message ${id} is not stored`);
    for (const id of failedBefore) assert.ok(!storedIds.has(id), `message ${id} failed with unavailable but was stored`);
    assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i + 1), 'seq has a gap after the outage');
    await ok(customerSocket, 'join-session', { sessionId: session.id });
    assertServerHealthy(server);
  });

  it('fails events with unavailable while another process holds the database lock, drops no socket, and recovers', {
    skip: !hasPython() && 'needs python3 (its sqlite3 module holds the lock)',
  }, async (t) => {
    const database = createSqliteDatabase(); // a file lock: SQLite whatever TEST_DATABASE_URL says
    const server = await spawnServerFor(t, { database, args: generous });
    const { session, customer, customerSocket, agentSocket } = await activeSession(server);
    await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'before the lock' });

    const lock = await holdLock(t, database.dbPath);

    drain(customerSocket, 'exception');
    const ack = await customerSocket.timeout(20_000).emitWithAck('send-message', { sessionId: session.id, content: 'while locked', clientMessageId: 'locked-1' });
    assert.equal(ack.ok, false, `a send while the database is locked was acked: ${JSON.stringify(ack)}`);
    assert.equal(ack.error.code, 'unavailable', JSON.stringify(ack));
    const exception = await waitFor(customerSocket, 'exception', { filter: (e) => e.event === 'send-message' });
    assert.equal(exception.code, 'unavailable');
    assert.ok(customerSocket.connected && agentSocket.connected, 'a socket was dropped');

    await lock.release();
    await ok(customerSocket, 'send-message', { sessionId: session.id, content: 'after the lock', clientMessageId: 'locked-2' });
    const stored = (await listMessages(server, customer, session.id)).map((m) => m.content);
    assert.deepEqual(stored, ['before the lock', 'after the lock']);
    assertServerHealthy(server);
  });
});

/**
 * Another process (python3's sqlite3) takes the SQLite write lock of `dbPath`
 * (BEGIN EXCLUSIVE) and holds it until release().
 */
async function holdLock(t, dbPath) {
  const locker = spawn('python3', ['-c', [
    'import sqlite3, sys',
    'c = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)',
    'c.execute("BEGIN EXCLUSIVE")',
    'print("locked", flush=True)',
    'sys.stdin.read()',
    'c.execute("ROLLBACK")',
  ].join('\n'), dbPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => locker.kill('SIGKILL'));
  const exited = new Promise((resolve) => locker.once('exit', resolve));
  await new Promise((resolve, reject) => {
    locker.stdout.once('data', resolve);
    exited.then((code) => reject(new Error(`the locking process exited with ${code}`)));
  });
  return {
    async release() {
      locker.stdin.end();
      await exited;
    },
  };
}

function hasPython() {
  try {
    execFileSync('python3', ['-c', 'import sqlite3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('stopping the server under load', () => {
  it('on SIGTERM finishes the events in flight, sends their acks, exits 0, and has stored exactly the acked messages; a retry of an unanswered one stores it once', async (t) => {
    const server = await spawnServerFor(t, { args: generous });
    const traffic = await load(server, 2);
    await until(() => acked(traffic.senders).length >= 60, { timeout: 15_000, what: 'traffic flowing' });
    const code = await server.stop();
    assert.equal(code, 0, `exit code after SIGTERM under load: ${code}`);
    const results = await Promise.all(traffic.senders.map((s) => s.stop()));
    // Events that arrive once the shutdown has started are refused with
    // `unavailable` (so a client that keeps sending cannot hold the process
    // open); no event fails any other way, and none of those is stored.
    const errors = results.flatMap((r) => [...r.failed.values()]);
    assert.deepEqual(errors.filter((e) => e?.code !== 'unavailable'), [], 'events failed during the shutdown');

    await server.restart();
    const ackedIds = new Set(results.flatMap((r) => [...r.ok.keys()]));
    const refusedIds = new Set(results.flatMap((r) => [...r.failed.keys()]));
    const unansweredIds = results.flatMap((r) => [...r.unanswered]);
    for (const [i, { session, customer, agent }] of traffic.sessions.entries()) {
      const mine = (id) => [`c${i}`, `a${i}`].includes(id.split('-')[0]);
      const stored = await listMessages(server, customer, session.id);
      const storedIds = new Set(stored.map((m) => m.clientMessageId));
      for (const id of [...ackedIds].filter(mine)) assert.ok(storedIds.has(id), `acked message ${id} is not stored`);
      for (const id of storedIds) {
        assert.ok(!refusedIds.has(id), `message ${id} was refused with unavailable but stored`);
        // Every stored message was acked, and the client read the ack: the
        // server closes a connection during shutdown without resetting it
        // (src/startup/serve.rs, lingering close), so a client still
        // writing does not lose the acks on their way back.
        assert.ok(ackedIds.has(id), `message ${id} is stored but its ack never reached the client (${unansweredIds.includes(id) ? 'unanswered' : 'not sent'})`);
      }
      assert.deepEqual(stored.map((m) => m.seq), stored.map((_, k) => k + 1));
      // Every message left unanswered is retried, as a client does: it is
      // stored now, once.
      const again = { c: await connect(server, customer.token, ws), a: await connect(server, agent.token, ws) };
      for (const id of unansweredIds.filter(mine)) {
        await ok(again[id[0]], 'send-message', { sessionId: session.id, content: `retry of ${id}`, clientMessageId: id });
        await ok(again[id[0]], 'send-message', { sessionId: session.id, content: `retry of ${id}`, clientMessageId: id });
      }
      const after = (await listMessages(server, customer, session.id)).map((m) => m.clientMessageId);
      assert.equal(new Set(after).size, after.length, 'a retried message was stored twice');
      assert.equal(after.length, storedIds.size + unansweredIds.filter(mine).length);
    }
  });

  it('on SIGTERM waits for events held up in the database, acks them and exits 0', {
    skip: !hasPython() && 'needs python3 (its sqlite3 module holds the lock that keeps the events in flight)',
  }, async (t) => {
    // Deterministic in-flight events: the database is locked by another process, so
    // these sends are being handled (waiting for SQLite) when SIGTERM arrives.
    const database = createSqliteDatabase();
    const server = await spawnServerFor(t, { database, args: generous });
    const { session, customer, customerSocket } = await activeSession(server);
    const lock = await holdLock(t, database.dbPath);
    const acks = Array.from({ length: 5 }, (_, i) => customerSocket.timeout(20_000)
      .emitWithAck('send-message', { sessionId: session.id, content: `in flight ${i}`, clientMessageId: `held-${i}` })
      .catch((err) => ({ ok: false, error: { code: 'no ack', message: err.message } })));
    // Packets are handled in order: once this ack is back, the sends above are in their handlers.
    await ok(customerSocket, 'leave-session', { sessionId: 'not-a-session' });
    const stopped = server.stop({ timeout: 15_000 });
    await until(() => server.logs().includes('shutting down'), { what: 'the server starting its shutdown' });
    await lock.release();
    const results = await Promise.all(acks);
    const code = await stopped;
    assert.deepEqual(results.map((a) => (a.ok ? 'ok' : a.error?.code)), ['ok', 'ok', 'ok', 'ok', 'ok'],
      `events in flight at SIGTERM did not finish with their ack: ${JSON.stringify(results.filter((a) => !a.ok)).slice(0, 500)}`);
    assert.equal(code, 0, `exit code: ${code}`);
    await server.restart();
    const stored = await listMessages(server, customer, session.id);
    assert.deepEqual(stored.map((m) => m.clientMessageId).sort(), results.map((a) => a.data.clientMessageId).sort());
  });

  it('on kill -9 keeps every message whose ack a client received, and catch-up hands them to the clients', async (t) => {
    const server = await spawnServerFor(t, { args: generous });
    const traffic = await load(server, 2);
    await until(() => acked(traffic.senders).length >= 60, { timeout: 15_000, what: 'traffic flowing' });
    await server.kill();
    const results = await Promise.all(traffic.senders.map((s) => s.stop()));
    await server.restart();

    for (const [i, { session, customer, customerSocket }] of traffic.sessions.entries()) {
      const ackedHere = results.flatMap((r) => [...r.ok.values()]).filter((m) => m.sessionId === session.id);
      assert.ok(ackedHere.length > 0, `conversation ${i} got no acks`);
      const stored = await listMessages(server, customer, session.id);
      const storedById = new Map(stored.map((m) => [m.id, m]));
      for (const m of ackedHere) {
        assert.ok(storedById.has(m.id), `acked message ${m.clientMessageId} (seq ${m.seq}) was lost by kill -9`);
        assert.equal(storedById.get(m.id).content, m.content);
        assert.equal(storedById.get(m.id).seq, m.seq);
      }
      assert.deepEqual(stored.map((m) => m.seq), stored.map((_, k) => k + 1), 'seq has a gap after kill -9');

      // The customer catches up from the last new-message it saw before the crash.
      const seen = customerSocket.received.filter((e) => e.event === 'new-message').map((e) => e.payload);
      const last = seen.reduce((a, b) => (b.seq > (a?.seq ?? 0) ? b : a), null);
      assert.ok(last, 'the customer saw no new-message before the crash');
      const back = await connect(server, customer.token, ws);
      const data = await ok(back, 'join-session', { sessionId: session.id, lastMessageId: last.id });
      const caughtUp = new Set([...seen.map((m) => m.id), ...data.messages.map((m) => m.id)]);
      for (const m of ackedHere) assert.ok(caughtUp.has(m.id), `catch-up did not hand over acked message ${m.clientMessageId}`);
      assert.deepEqual(data.messages.map((m) => m.seq), stored.filter((m) => m.seq > last.seq).map((m) => m.seq));
    }
  });
});
