// docs/protocol.md §10 webhooks are durable and delivered at least once:
// every change that commits is reported and none that fails, across a
// SIGTERM restart and a kill -9 with deliveries pending (the endpoint down,
// or requests in flight); the address rules hold again at delivery time;
// and over two nodes (Redis + PostgreSQL) one outbox is delivered by both
// without two attempts of one event ever in flight at once, publish reaches
// every target on every node, and a revoked key is refused on both at once.
//
// The multi-node tests need TEST_PG_URL and TEST_REDIS_URL
// (source scripts/services.sh); they are skipped, visibly, without them.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { makeUser, ok, received, uniqueId, until, waitFor } from '../lib/clients.mjs';
import { clusterSkip, freshTenant, spawnClusterFor, useCluster } from '../lib/cluster.mjs';
import { api, expectRestError, expectStatus, openSession } from '../lib/rest.mjs';
import { createSqliteDatabase, spawnServerFor } from '../lib/server.mjs';
import { closeRest, noteRest, online, rateRest, sendRest, take } from '../lib/tools.mjs';
import { startReceiver } from '../lib/webhooks.mjs';
import {
  ALL_EVENTS, DELIVERING_ENV, assertWebhookBody, createKey, deliveries, hookReceiver, publish, publishRaw, revokeKey, serverMessage,
  serverMessageRaw, serverSession,
} from '../lib/integrations.mjs';

const MAX_LEN = 200;
const ARGS = ['--message-max-length', String(MAX_LEN), '--send-rate-per-second', '1000', '--send-burst', '1000',
  '--event-rate-per-second', '1000', '--event-burst', '1000', '--open-rate-per-second', '1000', '--open-burst', '1000'];
/** 30 retries a second apart: deliveries stay pending through a restart. */
const PATIENT_ENV = {
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 30 }, () => '1').join(','),
  WEBHOOK_TIMEOUT_SECONDS: '2',
};
const DELIVERY = { timeout: 30_000 };

async function receiverFor(t, options) {
  const rx = await startReceiver(options);
  t.after(() => rx.close());
  return rx;
}

/** Every webhook-id the receiver answered 2xx more than once (at least once is fine; a healthy run delivers once). */
function deliveredTwice(rx) {
  const counts = new Map();
  for (const a of rx.attempts) if (a.status >= 200 && a.status < 300) counts.set(a.id, (counts.get(a.id) ?? 0) + 1);
  return [...counts].filter(([, n]) => n > 1).map(([id]) => id);
}

/** What an event is about: its type and the ids it names, e.g. 'message.created <message id>'. */
function subject(attempt) {
  const { type, data } = attempt.body;
  if (type === 'message.created') return `${type} ${data.message.id}`;
  if (type === 'note.created') return `${type} ${data.note.id}`;
  if (type === 'session.updated') return `${type} ${data.session.id} ${data.session.rating ? 'rated' : data.session.status}`;
  return `${type} ${data.session.id}`;
}

/**
 * One tenant's worth of changes, made while the endpoint cannot take them:
 * 8 that commit (expected), and a few that are refused and must never be
 * reported. Returns { expected: subjects, session, customer, agent }.
 */
async function changes(server, tenant, key) {
  const customer = makeUser('customer', { tenant });
  const agent = makeUser('agent', { tenant });
  const session = await openSession(server, customer, { message: 'my parcel is late' });
  await take(server, agent, session.id);
  const reply = await sendRest(server, agent, session.id, 'Let me check.');
  const note = await noteRest(server, agent, session.id, 'carrier issue');
  const relayed = await serverMessage(server, key, session.id, { content: 'via WhatsApp: thanks', from: 'customer', clientMessageId: 'wa-1' });
  // Refused, or changing nothing: never reported.
  await expectStatus(serverMessageRaw(server, key, session.id, { content: 'via WhatsApp: thanks', from: 'customer', clientMessageId: 'wa-1' }), [200, 201], 'a repeat:');
  await expectRestError(serverMessageRaw(server, key, session.id, { content: 'x'.repeat(MAX_LEN + 1), from: 'bot' }), 413, 'message_too_long');
  await expectRestError(api(server, makeUser('agent', { tenant }), 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} }), 409, 'conflict');
  await closeRest(server, agent, session.id);
  await closeRest(server, customer, session.id); // closing a closed session sends nothing
  await expectRestError(serverMessageRaw(server, key, session.id, { content: 'too late', from: 'bot' }), 409, 'session_closed');
  await expectStatus(rateRest(server, customer, session.id, { score: 5 }), 200, 'rate:');
  const first = (await api(server, agent, 'GET', `/api/chat/sessions/${session.id}/messages`)).body.items[0];
  const expected = [
    `session.created ${session.id}`, `message.created ${first.id}`, `session.updated ${session.id} active`,
    `message.created ${reply.id}`, `note.created ${note.id}`, `message.created ${relayed.id}`,
    `session.closed ${session.id}`, `session.updated ${session.id} rated`,
  ];
  return { expected, session, customer, agent };
}

/** Waits until every delivery of `hookId` is delivered; resolves with them. */
function allDelivered(server, admin, hookId, count) {
  return until(async () => {
    const items = await deliveries(server, admin, hookId, 200);
    return items.length === count && items.every((d) => d.status === 'delivered') && items;
  }, { ...DELIVERY, what: `${count} deliveries delivered` });
}

function hasPython() {
  try {
    execFileSync('python3', ['-c', 'import sqlite3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Another process (python3's sqlite3) holds the SQLite write lock of `dbPath` until release(). */
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
  return { async release() { locker.stdin.end(); await exited; } };
}

// ================================================================ one node, restarted

describe('webhooks across restarts', () => {
  for (const how of ['SIGTERM', 'kill -9']) {
    it(`delivers every committed change once the endpoint is back after a ${how} restart, and nothing of what was refused`, async (t) => {
      const server = await spawnServerFor(t, { args: ARGS, env: PATIENT_ENV });
      const tenant = uniqueId('t');
      const admin = makeUser('admin', { tenant });
      const { key } = await createKey(server, admin);
      const rx = await receiverFor(t);
      const hook = await hookReceiver(server, admin, rx, ALL_EVENTS);
      await rx.vanish();

      const { expected } = await changes(server, tenant, key);
      // The server has tried each of them and failed (connection refused): pending, with an error.
      await until(async () => {
        const items = await deliveries(server, admin, hook.id, 200);
        return items.length === expected.length && items.every((d) => d.status === 'pending' && d.attempts >= 1 && d.lastError) && items;
      }, { ...DELIVERY, what: `${expected.length} pending deliveries, each attempted once at least` });

      if (how === 'SIGTERM') await server.restart();
      else { await server.kill(); await server.restart(); }
      await rx.revive();

      // The worker goes on after the restart: a change made now is delivered too.
      const all = [...expected];
      const fresh = await serverSession(server, key, { customerId: uniqueId('c'), message: 'after the restart' });
      const freshMessage = (await api(server, admin, 'GET', `/api/chat/sessions/${fresh.id}/messages`)).body.items[0];
      all.push(`session.created ${fresh.id}`, `message.created ${freshMessage.id}`);

      // After a kill -9, an attempt the killed process had claimed waits for its lease (the timeout + 30 s) to run out.
      const got = await rx.waitForEvents(all.length, {}, how === 'SIGTERM' ? DELIVERY : { timeout: (2 + 30 + 15) * 1000 });
      for (const attempt of got) assertWebhookBody(attempt, { tenant });
      assert.deepEqual(got.map(subject).sort(), [...all].sort(), 'exactly the committed changes');
      await allDelivered(server, admin, hook.id, all.length);
      assert.deepEqual(rx.delivered().map(subject).sort(), [...all].sort(), 'nothing else came');
      assert.deepEqual(deliveredTwice(rx), [], 'none delivered twice');
      assert.deepEqual(rx.unverified(), []);
    });
  }

  it('delivers again, after a kill -9, the deliveries whose requests were in flight', async (t) => {
    const server = await spawnServerFor(t, { args: ARGS, env: PATIENT_ENV });
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const { key } = await createKey(server, admin);
    const rx = await receiverFor(t, { answer: 'hang' });
    const hook = await hookReceiver(server, admin, rx, ['session.created']);
    const sessions = [];
    for (let i = 0; i < 3; i += 1) sessions.push(await serverSession(server, key, { customerId: uniqueId('c') }));
    await rx.waitForAttempts(3, {}, DELIVERY);
    await server.kill();
    rx.answer('ok');
    await server.restart();
    // The killed process's claims hold until their lease runs out (the timeout + 30 s): then they are attempted again.
    const got = await rx.waitForEvents(3, {}, { timeout: (2 + 30 + 15) * 1000 });
    assert.deepEqual(got.map((a) => a.body.data.session.id).sort(), sessions.map((s) => s.id).sort());
    for (const event of got) assert.equal(event.n, 2, 'the attempt in flight at the kill, then one more');
    await allDelivered(server, admin, hook.id, 3);
  });

  it('never reports a change whose transaction failed (the database locked by another process)', {
    skip: !hasPython() && 'needs python3 (its sqlite3 module holds the lock)',
  }, async (t) => {
    const database = createSqliteDatabase(); // a file lock: SQLite whatever TEST_DATABASE_URL says
    const server = await spawnServerFor(t, { database, args: ARGS, env: PATIENT_ENV });
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const { key } = await createKey(server, admin);
    const rx = await receiverFor(t);
    const hook = await hookReceiver(server, admin, rx, ['message.created']);
    const session = await serverSession(server, key, { customerId: uniqueId('c'), message: 'before the lock' });
    await rx.waitForEvents(1, {}, DELIVERY);

    const lock = await holdLock(t, database.dbPath);
    const refused = await serverMessageRaw(server, key, session.id, { content: 'while locked', from: 'customer' });
    assert.equal(refused.status, 503, `a message while the database is locked: ${refused.status} ${refused.text}`);
    await lock.release();
    const later = await serverMessage(server, key, session.id, { content: 'after the lock', from: 'customer' });
    const got = await rx.waitForEvents(2, {}, DELIVERY);
    assert.deepEqual(got.map((a) => a.body.data.message.content), ['before the lock', 'after the lock']);
    assert.equal(got[1].body.data.message.id, later.id);
    assert.equal((await allDelivered(server, admin, hook.id, 2)).length, 2);
    assert.ok(!rx.attempts.some((a) => a.raw.includes('while locked')), 'the failed change was never reported');
  });

  it('checks the address again at delivery: registered with private networks allowed, refused after a restart without', async (t) => {
    const server = await spawnServerFor(t, { args: ARGS, env: DELIVERING_ENV });
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const rx = await receiverFor(t);
    const hook = await hookReceiver(server, admin, rx, ['session.created']);
    await server.restart({ env: { WEBHOOK_RETRY_SCHEDULE: '1,1,1' } });
    const adminOnline = await online(server, 'admin', tenant, admin);
    await openSession(server, makeUser('customer', { tenant }), { message: 'hello' });
    const first = await waitFor(adminOnline.socket, 'webhook-delivery', { ...DELIVERY, filter: (p) => p.webhookId === hook.id && p.delivery.attempts === 1 });
    assert.equal(first.delivery.lastStatusCode, null, JSON.stringify(first));
    assert.match(first.delivery.lastError ?? '', /address|private|loopback|allowed|refus/i, `lastError: ${first.delivery.lastError}`);
    const failed = await waitFor(adminOnline.socket, 'webhook-delivery', { ...DELIVERY, filter: (p) => p.webhookId === hook.id && p.delivery.status === 'failed' });
    assert.equal(failed.delivery.attempts, 4);
    assert.deepEqual(rx.attempts, [], 'nothing reached the private address');
  });
});

// ================================================================ two nodes, one database

describe('integrations over two nodes', () => {
  const c = useCluster({ nodes: 2, args: ARGS, env: { ...DELIVERING_ENV, WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1' } });
  const node = (i) => c.cluster.node(i);

  it('delivers one outbox from both nodes: every event delivered, never two attempts of one event in flight at once', { skip: clusterSkip }, async (t) => {
    const tenant = freshTenant();
    const admin = makeUser('admin', { tenant });
    const admins = [await online(node(0), 'admin', tenant, admin), await online(node(1), 'admin', tenant, admin)];
    const { key } = await createKey(node(0), admin);
    // Slow answers (requests stay in flight), and every other event fails its first attempt.
    const rx = await receiverFor(t, {
      answer: (a) => ({ answer: a.n === 1 && a.id.charCodeAt(a.id.length - 1) % 2 === 0 ? 'fail' : 'ok', afterMs: 150 }),
    });
    const hook = await hookReceiver(node(1), admin, rx, ['session.created', 'message.created']);
    // A webhook registered through node 0 too (another tenant's), so both nodes know at once that
    // webhooks exist: reporting right after a registration through the other node is the next test's subject.
    const bystander = await receiverFor(t);
    await hookReceiver(node(0), makeUser('admin', { tenant: freshTenant() }), bystander, ['session.closed']);
    const sessions = await Promise.all(Array.from({ length: 16 }, (_, i) =>
      serverSession(node(i % 2), key, { customerId: uniqueId('c'), message: `hello ${i}` })));
    const expected = sessions.length * 2;
    const got = await rx.waitForEvents(expected, {}, { timeout: 45_000 });
    assert.deepEqual(got.filter((a) => a.type === 'session.created').map((a) => a.body.data.session.id).sort(), sessions.map((s) => s.id).sort());
    const items = await allDelivered(node(0), admin, hook.id, expected);
    assert.deepEqual(rx.overlaps(), [], 'two attempts of one event were in flight at once');
    assert.deepEqual(deliveredTwice(rx), [], 'an event was delivered twice');
    assert.deepEqual(rx.unverified(), []);
    // Every outcome reaches the tenant's admin sockets on both nodes, whichever node attempted it.
    for (const a of admins) {
      await until(() => {
        const done = new Set(received(a.socket, 'webhook-delivery').filter((p) => p.webhookId === hook.id && p.delivery.status === 'delivered')
          .map((p) => p.delivery.eventId));
        return items.every((d) => done.has(d.eventId));
      }, { timeout: 10_000, what: 'a delivered webhook-delivery for each event on this node\'s admin socket' });
    }
  });

  it('reports a change made on one node right after a webhook was registered through the other (a fresh cluster)', { skip: clusterSkip }, async (t) => {
    // Fresh processes and database: no node has seen a webhook yet.
    const fresh = await spawnClusterFor(t, { nodes: 2, args: ARGS, env: DELIVERING_ENV });
    const tenant = freshTenant();
    const admin = makeUser('admin', { tenant });
    const rx = await receiverFor(t);
    const hook = await hookReceiver(fresh.node(1), admin, rx, ['session.created']);
    const sessions = await Promise.all([0, 1, 2].map(() => openSession(fresh.node(0), makeUser('customer', { tenant }), { message: 'right after the registration' })));
    const got = await rx.waitForEvents(3, {}, { timeout: 10_000 });
    assert.deepEqual(got.map((e) => e.body.data.session.id).sort(), sessions.map((s) => s.id).sort());
    assert.deepEqual((await deliveries(fresh.node(0), admin, hook.id)).map((d) => d.status), ['delivered', 'delivered', 'delivered']);
  });

  it('publishes to every target from either node to sockets on both', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const admin = makeUser('admin', { tenant });
    const { key } = await createKey(node(0), admin);
    const customer = makeUser('customer', { tenant });
    const tabs = [await online(node(0), 'customer', tenant, customer), await online(node(1), 'customer', tenant, customer)];
    const agents = [await online(node(0), 'agent', tenant), await online(node(1), 'agent', tenant)];
    const session = await openSession(node(0), customer, { message: 'hi' });
    for (const s of [...tabs, ...agents]) await ok(s.socket, 'join-session', { sessionId: session.id });
    const targets = [
      [{ tenant: true }, [...tabs, ...agents]],
      [{ agents: true }, agents],
      [{ user: customer.sub }, tabs],
      [{ session: session.id }, [...tabs, ...agents]],
    ];
    for (const from of [0, 1]) {
      for (const [to, audience] of targets) {
        const event = `notify.n${from}.${Object.keys(to)[0]}`;
        await publish(node(from), key, { event, data: { from, to }, to });
        for (const who of audience) assert.deepEqual(await waitFor(who.socket, event, { timeout: 5000 }), { from, to });
      }
    }
    for (const agent of agents) {
      assert.equal(received(agent.socket, 'notify.n0.user').length + received(agent.socket, 'notify.n1.user').length, 0, 'a user target is that user only');
    }
    for (const tab of tabs) {
      assert.equal(received(tab.socket, 'notify.n0.agents').length + received(tab.socket, 'notify.n1.agents').length, 0, 'an agents target is staff only');
    }
  });

  it('refuses a revoked key on both nodes at once', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const admin = makeUser('admin', { tenant });
    const { id, key } = await createKey(node(0), admin);
    const body = { event: 'crm.ping', to: { tenant: true } };
    await publish(node(1), key, body);
    await publish(node(0), key, body);
    await revokeKey(node(1), admin, id);
    await expectRestError(publishRaw(node(0), key, body), 401, 'unauthorized', 'node 0, right after the revocation on node 1:');
    await expectRestError(publishRaw(node(1), key, body), 401, 'unauthorized', 'node 1:');
  });
});
