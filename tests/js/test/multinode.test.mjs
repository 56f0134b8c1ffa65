// Several nodes behind one Redis (socketioxide-redis) and one PostgreSQL
// database, as deployed (docker-compose.yml): every server event of
// docs/protocol.md §5 crosses nodes, presence counts users on all nodes, races
// between nodes are decided by the database, concurrent senders on several
// nodes get gap-free seqs and every message exactly once, a node killed with
// SIGKILL loses no acknowledged message and its clients catch up on another
// node, and /health tells the state of the database and of Redis.
//
// Needs TEST_PG_URL and TEST_REDIS_URL (scripts/services.sh exports both);
// without them every test here is skipped, with the reason.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { closeAllClients, connect, drain, emitAck, expectNo, makeUser, ok, received, until, waitFor } from '../lib/clients.mjs';
import { api, assertSession, assertStats, expectRestError, expectStatus, listMessages, openSession } from '../lib/rest.mjs';
import { clusterSkip, freshTenant, spawnCluster, spawnClusterFor, spawnRedis, useCluster } from '../lib/cluster.mjs';
import { createPostgresDatabase, spawnServerFor } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };
const pgSkip = process.env.TEST_PG_URL ? false : 'TEST_PG_URL not set: needs a PostgreSQL server (`source scripts/services.sh`)';
const fast = ['--send-rate-per-second', '10000', '--send-burst', '10000'];
// Events cross Redis: allow for a busy 2-core CI machine.
const CROSS = { timeout: 5000 };

/** A user of `tenant` connected to `server`, once `connected` arrived (staff: and the stats snapshot). */
async function online(server, role, tenant, user = makeUser(role, { tenant })) {
  const socket = await connect(server, user.token, ws);
  await waitFor(socket, 'connected');
  const snapshot = role === 'customer' ? null : await waitFor(socket, 'stats-update');
  return { user, socket, snapshot };
}

/**
 * Resolves with every `event` payload the socket received (consumed or not) that
 * passes `filter`, once there are at least `n`; rejects after `timeout`.
 */
function receivedCount(socket, event, n, { timeout = 10_000, filter = () => true } = {}) {
  const matching = () => received(socket, event).filter(filter);
  return new Promise((resolve, reject) => {
    const check = () => {
      const now = matching();
      if (now.length < n) return false;
      socket.offAny(check);
      clearTimeout(timer);
      resolve(now);
      return true;
    };
    const timer = setTimeout(() => {
      socket.offAny(check);
      reject(new Error(`socket ${socket.id} got ${matching().length} of ${n} "${event}" within ${timeout} ms`));
    }, timeout);
    if (!check()) socket.onAny(check);
  });
}

const range = (n, from = 1) => Array.from({ length: n }, (_, i) => i + from);

async function health(server) {
  const started = Date.now();
  const res = await api(server, null, 'GET', '/health');
  return { ...res, ms: Date.now() - started };
}

/**
 * A session between a customer on node `c` and an agent on node `a` (who took
 * it by joining), both in the room, the take's events consumed.
 */
async function crossSession(cluster, tenant, { c = 0, a = 1, message } = {}) {
  const customer = await online(cluster.node(c), 'customer', tenant);
  const session = await openSession(cluster.node(c), customer.user, { message });
  await ok(customer.socket, 'join-session', { sessionId: session.id });
  const agent = await online(cluster.node(a), 'agent', tenant);
  const joined = await ok(agent.socket, 'join-session', { sessionId: session.id });
  assert.deepEqual(joined.session.agent, agent.user.ref);
  await waitFor(customer.socket, 'session-updated', CROSS);
  await waitFor(customer.socket, 'session-joined', { ...CROSS, filter: (e) => e.user?.id === agent.user.sub });
  await waitFor(agent.socket, 'session-updated', CROSS); // its own take, heard in agents:{tenant}
  return { session: joined.session, customer, agent };
}

describe('several nodes over Redis and PostgreSQL', () => {
  const c = useCluster({ nodes: 3, args: fast });
  const node = (i) => c.cluster.node(i);

  it('runs three nodes on one database, each reporting database ok and adapter redis', { skip: clusterSkip }, async () => {
    for (const [i, server] of c.cluster.nodes.entries()) {
      const res = await health(server);
      assert.equal(res.status, 200, `node ${i}: ${res.text}`);
      assert.deepEqual({ ...res.body, version: undefined },
        { status: 'ok', database: 'ok', adapter: 'redis', version: undefined }, `node ${i}`);
    }
  });

  it('announces a user joining a room once, whichever node each of their tabs is on', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const { session, customer, agent } = await crossSession(c.cluster, tenant, { c: 0, a: 1 });
    drain(agent.socket, 'session-joined');
    // The customer's second tab, on a node where none of their sockets is in the room yet.
    const secondTab = await connect(node(2), customer.user.token, ws);
    await waitFor(secondTab, 'connected');
    await ok(secondTab, 'join-session', { sessionId: session.id });
    // A control: a watcher joining from the same node after it is announced,
    // and Redis keeps one node's broadcasts in order.
    const watcher = await online(node(2), 'admin', tenant);
    await ok(watcher.socket, 'join-session', { sessionId: session.id });
    await waitFor(agent.socket, 'session-joined', { ...CROSS, filter: (e) => e.user?.id === watcher.user.sub });
    // The customer was in the room already (on node 0): their second tab is not announced.
    await expectNo(agent.socket, 'session-joined', 0, { filter: (e) => e.user?.id === customer.user.sub });
  });

  it('tells agents on other nodes of a new pending session and of its take, and the customer of who took it', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const watcher = await online(node(2), 'agent', tenant);
    const taker = await online(node(1), 'agent', tenant);
    const customer = await online(node(0), 'customer', tenant);

    const session = await openSession(node(0), customer.user, { subject: 'refund', message: 'hello' });
    for (const agent of [watcher, taker]) {
      const pending = await waitFor(agent.socket, 'new-pending-session', CROSS);
      assertSession(pending, { id: session.id, status: 'pending', customer: customer.user.ref, agent: null });
    }
    assertStats(await waitFor(watcher.socket, 'stats-update', { ...CROSS, filter: (s) => s.pendingSessions === 1 }),
      { pendingSessions: 1, messagesToday: 1 });

    await ok(customer.socket, 'join-session', { sessionId: session.id });
    const joined = await ok(taker.socket, 'join-session', { sessionId: session.id });
    assert.deepEqual(joined.session.agent, taker.user.ref);

    const updated = await waitFor(customer.socket, 'session-updated', CROSS);
    assertSession(updated, { id: session.id, status: 'active', agent: taker.user.ref });
    const announced = await waitFor(customer.socket, 'session-joined', { ...CROSS, filter: (e) => e.user?.id === taker.user.sub });
    assert.equal(announced.session.id, session.id);
    assert.equal(announced.messages, undefined, 'messages go to the joiner only');
    assertSession(await waitFor(watcher.socket, 'session-updated', CROSS), { id: session.id, agent: taker.user.ref });
    await waitFor(watcher.socket, 'stats-update', { ...CROSS, filter: (s) => s.pendingSessions === 0 && s.activeSessions === 1 });
  });

  it('relays new-message, user-typing, messages-read and session-closed between nodes', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const { session, customer, agent } = await crossSession(c.cluster, tenant, { c: 0, a: 1 });
    const watcher = await online(node(2), 'agent', tenant); // in the room, watching
    await ok(watcher.socket, 'join-session', { sessionId: session.id });
    const bystander = await online(node(2), 'agent', tenant); // agents room only

    const sent = await ok(customer.socket, 'send-message', { sessionId: session.id, content: 'my parcel is late', clientMessageId: 'c-1' });
    for (const socket of [customer.socket, agent.socket, watcher.socket]) {
      assert.deepEqual(await waitFor(socket, 'new-message', { ...CROSS, filter: (m) => m.id === sent.id }), sent);
    }

    await ok(agent.socket, 'typing', { sessionId: session.id, isTyping: true });
    for (const socket of [customer.socket, watcher.socket]) {
      assert.deepEqual(await waitFor(socket, 'user-typing', CROSS), { sessionId: session.id, user: agent.user.ref, isTyping: true });
    }
    await expectNo(agent.socket, 'user-typing', 300);

    const read = await ok(agent.socket, 'mark-read', { sessionId: session.id });
    assert.equal(read.count, 1);
    const readEvent = await waitFor(customer.socket, 'messages-read', CROSS);
    assert.deepEqual({ ...readEvent, readAt: undefined },
      { sessionId: session.id, reader: agent.user.ref, upToMessageId: sent.id, upToSeq: 1, count: 1, readAt: undefined });

    await ok(customer.socket, 'close-session', { sessionId: session.id, reason: 'solved' });
    for (const socket of [agent.socket, watcher.socket, bystander.socket]) {
      const closed = await waitFor(socket, 'session-closed', CROSS);
      assertSession(closed.session, { id: session.id, status: 'closed' });
      assert.deepEqual(closed.closedBy, customer.user.ref);
      assert.equal(closed.reason, 'solved');
    }
    // The union of the room and agents:{tenant}: a watcher in both hears it once.
    await expectNo(watcher.socket, 'session-closed', 300);
  });

  it('turns REST changes on one node into socket events on the others', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const { session, customer, agent } = await crossSession(c.cluster, tenant, { c: 0, a: 1 });
    const admin = makeUser('admin', { tenant });
    const other = await online(node(0), 'agent', tenant); // known to the server, in agents:{tenant}

    const message = await expectStatus(api(node(2), admin, 'POST', `/api/chat/sessions/${session.id}/messages`,
      { body: { content: 'admin here' } }), 201);
    for (const socket of [customer.socket, agent.socket]) {
      assert.deepEqual(await waitFor(socket, 'new-message', { ...CROSS, filter: (m) => m.id === message.id }), message);
    }

    await expectStatus(api(node(2), admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: other.user.sub } }), 200);
    for (const socket of [customer.socket, agent.socket, other.socket]) {
      assertSession(await waitFor(socket, 'session-updated', CROSS), { id: session.id, agent: other.user.ref });
    }

    await expectStatus(api(node(2), admin, 'POST', `/api/chat/sessions/${session.id}/read`, { body: {} }), 200);
    await expectStatus(api(node(2), admin, 'POST', `/api/chat/sessions/${session.id}/close`, { body: {} }), 200);
    for (const socket of [customer.socket, agent.socket, other.socket]) {
      const closed = await waitFor(socket, 'session-closed', CROSS);
      assert.deepEqual(closed.closedBy, admin.ref);
    }
  });

  it('stops a typing indicator on the other nodes when the typing socket disconnects, and after 5 s of silence', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const { session, customer, agent } = await crossSession(c.cluster, tenant, { c: 0, a: 1 });
    await ok(agent.socket, 'typing', { sessionId: session.id, isTyping: true });
    await waitFor(customer.socket, 'user-typing', { ...CROSS, filter: (e) => e.isTyping });
    agent.socket.disconnect();
    assert.deepEqual(await waitFor(customer.socket, 'user-typing', { ...CROSS, filter: (e) => !e.isTyping }),
      { sessionId: session.id, user: agent.user.ref, isTyping: false });

    const agentBack = await online(node(2), 'agent', tenant, agent.user);
    await ok(agentBack.socket, 'join-session', { sessionId: session.id });
    await ok(agentBack.socket, 'typing', { sessionId: session.id, isTyping: true });
    await waitFor(customer.socket, 'user-typing', { ...CROSS, filter: (e) => e.isTyping });
    const started = Date.now();
    await waitFor(customer.socket, 'user-typing', { timeout: 9000, filter: (e) => !e.isTyping });
    assert.ok(Date.now() - started >= 4000, `stopped after ${Date.now() - started} ms, expected about 5 s`);
  });

  it('counts online agents and customers over all nodes, users once however many nodes they are on', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const a1 = await online(node(0), 'agent', tenant);
    const a2 = await online(node(1), 'agent', tenant);
    const a2SecondTab = await online(node(2), 'agent', tenant, a2.user);
    await online(node(2), 'admin', tenant);
    await online(node(0), 'customer', tenant);
    const c2 = await online(node(1), 'customer', tenant);
    await online(node(1), 'customer', tenant, c2.user); // second tab, same node
    const c3 = await online(node(2), 'customer', tenant);
    await online(node(0), 'customer', freshTenant()); // another tenant: never counted here

    const observer = await online(node(0), 'agent', tenant);
    assertStats(observer.snapshot, { onlineAgents: 4, onlineCustomers: 3 });
    const rest = await expectStatus(api(node(1), a1.user, 'GET', '/api/chat/stats'), 200);
    assertStats(rest, { onlineAgents: 4, onlineCustomers: 3 });

    // A disconnect on node 2 reaches an agent on node 0.
    c3.socket.disconnect();
    await waitFor(observer.socket, 'stats-update', { ...CROSS, filter: (s) => s.onlineCustomers === 2 && s.onlineAgents === 4 });
    // a2 is still on node 1: closing the tab on node 2 changes no count.
    drain(observer.socket, 'stats-update');
    a2SecondTab.socket.disconnect();
    await expectNo(observer.socket, 'stats-update', 1200, { filter: (s) => s.onlineAgents !== 4 || s.onlineCustomers !== 2 });
    a2.socket.disconnect();
    await waitFor(observer.socket, 'stats-update', { ...CROSS, filter: (s) => s.onlineAgents === 3 });
  });

  it('gives exactly one of two agents assigning the same session by REST on two nodes at once a 200, the other 409 conflict', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const first = makeUser('agent', { tenant });
    const second = makeUser('agent', { tenant });
    const observer = await online(node(0), 'agent', tenant);
    const wins = { [first.sub]: 0, [second.sub]: 0 };
    for (let round = 0; round < 8; round += 1) {
      const customer = makeUser('customer', { tenant });
      const session = await openSession(node(0), customer);
      const [r1, r2] = await Promise.all([
        api(node(1), first, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} }),
        api(node(2), second, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: {} }),
      ]);
      const statuses = [r1.status, r2.status].sort();
      assert.deepEqual(statuses, [200, 409], `round ${round}: ${r1.text} / ${r2.text}`);
      const [winner, loserRes] = r1.status === 200 ? [first, r2] : [second, r1];
      assert.equal(loserRes.body.error.code, 'conflict');
      wins[winner.sub] += 1;
      const stored = await expectStatus(api(node(0), observer.user, 'GET', `/api/chat/sessions/${session.id}`), 200);
      assert.deepEqual(stored.agent, winner.ref);
      // One take, so one session-updated.
      await waitFor(observer.socket, 'session-updated', { ...CROSS, filter: (s) => s.id === session.id });
    }
    await expectNo(observer.socket, 'session-updated', 500);
    // Not an assertion on fairness: only a note when one node always won.
    if (Object.values(wins).includes(0)) console.log(`# note: one node won every assign race: ${JSON.stringify(wins)}`);
  });

  it('lets one of two agents joining the same pending session at once on two nodes take it; the other watches', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    for (let round = 0; round < 8; round += 1) {
      const customer = await online(node(0), 'customer', tenant);
      const session = await openSession(node(0), customer.user);
      await ok(customer.socket, 'join-session', { sessionId: session.id });
      const one = await online(node(1), 'agent', tenant);
      const two = await online(node(2), 'agent', tenant);
      const [ack1, ack2] = await Promise.all([
        emitAck(one.socket, 'join-session', { sessionId: session.id }),
        emitAck(two.socket, 'join-session', { sessionId: session.id }),
      ]);
      assert.ok(ack1.ok && ack2.ok, `both joins succeed: ${JSON.stringify([ack1, ack2]).slice(0, 500)}`);
      const holder = ack1.data.session.agent;
      assert.deepEqual(ack2.data.session.agent, holder, 'both acks name the same agent');
      assert.ok([one.user.sub, two.user.sub].includes(holder.id), `the holder is one of them: ${JSON.stringify(holder)}`);
      const updated = await waitFor(customer.socket, 'session-updated', CROSS);
      assert.deepEqual(updated.agent, holder);
      await expectNo(customer.socket, 'session-updated', 300);
      const stored = await expectStatus(api(node(0), customer.user, 'GET', `/api/chat/sessions/${session.id}`), 200);
      assert.deepEqual(stored.agent, holder);
      // The watcher hears the room too.
      const sent = await ok(customer.socket, 'send-message', { sessionId: session.id, content: `round ${round}` });
      for (const agent of [one, two]) await waitFor(agent.socket, 'new-message', { ...CROSS, filter: (m) => m.id === sent.id });
    }
  });

  it('gives a customer opening a session twice at once on two nodes one session', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const observer = await online(node(2), 'agent', tenant);
    for (let round = 0; round < 8; round += 1) {
      const customer = makeUser('customer', { tenant });
      const [r1, r2] = await Promise.all([
        api(node(0), customer, 'POST', '/api/chat/sessions', { body: { subject: 'a' } }),
        api(node(1), customer, 'POST', '/api/chat/sessions', { body: { subject: 'b' } }),
      ]);
      assert.deepEqual([r1.status, r2.status].sort(), [200, 201], `round ${round}: ${r1.text} / ${r2.text}`);
      assert.equal(r1.body.id, r2.body.id, 'both answers are the same session');
      const list = await expectStatus(api(node(2), customer, 'GET', '/api/chat/sessions'), 200);
      assert.deepEqual(list.items.map((s) => s.id), [r1.body.id]);
      await waitFor(observer.socket, 'new-pending-session', { ...CROSS, filter: (s) => s.id === r1.body.id });
    }
    await expectNo(observer.socket, 'new-pending-session', 500);
  });

  it('gives concurrent senders on three nodes seq 1..n without gaps, every message to every client exactly once, each node\'s in seq order', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const { session, customer, agent } = await crossSession(c.cluster, tenant, { c: 0, a: 2 });
    const customerTab2 = await online(node(1), 'customer', tenant, customer.user);
    await ok(customerTab2.socket, 'join-session', { sessionId: session.id });
    const admins = [await online(node(0), 'admin', tenant), await online(node(1), 'admin', tenant)];
    const watcherClients = [];
    for (const i of [0, 1, 2]) watcherClients.push(await online(node(i), 'agent', tenant));
    for (const client of [...admins, ...watcherClients]) await ok(client.socket, 'join-session', { sessionId: session.id });

    // Which node each sending socket is on: events leave a node in seq order.
    const senders = [
      { socket: customer.socket, node: 0 }, { socket: customerTab2.socket, node: 1 },
      { socket: agent.socket, node: 2 }, { socket: admins[0].socket, node: 0 }, { socket: admins[1].socket, node: 1 },
    ];
    const receivers = [customer, customerTab2, agent, ...admins, ...watcherClients].map((x) => x.socket);
    for (const socket of receivers) drain(socket, 'new-message');
    const PER_SENDER = 20;
    const acks = (await Promise.all(senders.map(({ socket }, s) => Promise.all(range(PER_SENDER).map((k) =>
      ok(socket, 'send-message', { sessionId: session.id, content: `sender ${s} #${k}`, clientMessageId: `s${s}-${k}` })))))).flat();
    const total = senders.length * PER_SENDER;

    assert.deepEqual(acks.map((m) => m.seq).sort((x, y) => x - y), range(total), 'acked seqs are 1..n, each once');
    const originOf = new Map();
    senders.forEach(({ node: n }, s) => acks.filter((m) => m.content.startsWith(`sender ${s} #`)).forEach((m) => originOf.set(m.id, n)));

    for (const [r, socket] of receivers.entries()) {
      const got = await receivedCount(socket, 'new-message', total, { filter: (m) => m.sessionId === session.id });
      assert.equal(got.length, total, `receiver ${r}: exactly ${total} new-message`);
      assert.equal(new Set(got.map((m) => m.id)).size, total, `receiver ${r}: each message once`);
      assert.deepEqual(got.map((m) => m.seq).sort((x, y) => x - y), range(total), `receiver ${r}: ordered by seq, no gap`);
      for (const origin of [0, 1, 2]) {
        const seqs = got.filter((m) => originOf.get(m.id) === origin).map((m) => m.seq);
        assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `receiver ${r}: messages sent on node ${origin} arrive in seq order`);
      }
    }
    // Nothing more arrives later (no duplicate from another node).
    for (const socket of receivers) drain(socket, 'new-message');
    await Promise.all(receivers.map((socket) => expectNo(socket, 'new-message', 500)));
    const stored = await listMessages(node(1), agent.user, session.id);
    assert.deepEqual(stored.map((m) => m.seq), range(total));
    assert.deepEqual(new Set(stored.map((m) => m.id)), new Set(acks.map((m) => m.id)));
  });
});

describe('a node killed with SIGKILL under traffic', () => {
  it('loses no acknowledged message; its clients reconnect to another node and catch up with lastMessageId', { skip: clusterSkip }, async (t) => {
    const cluster = await spawnClusterFor(t, { nodes: 3, args: fast });
    const tenant = freshTenant();
    const { session, customer, agent } = await crossSession(cluster, tenant, { c: 0, a: 1 });
    const admin = await online(cluster.node(2), 'admin', tenant);
    await ok(admin.socket, 'join-session', { sessionId: session.id });

    const acked = [];
    let stop = false;
    // A sender that sends until told to stop (or its socket dies), one message in flight at a time.
    const sendLoop = async (socket, name) => {
      for (let k = 0; k < 2000 && !stop; k += 1) {
        if (!socket.connected) return;
        let ack;
        try {
          ack = await emitAck(socket, 'send-message', { sessionId: session.id, content: `${name} ${k}`, clientMessageId: `${name}-${k}` });
        } catch {
          return; // no ack: its fate is unknown, so it is not counted
        }
        if (ack.ok) acked.push(ack.data);
      }
    };
    const loops = [sendLoop(agent.socket, 'agent'), sendLoop(admin.socket, 'admin')];
    const customerLoop = sendLoop(customer.socket, 'customer');

    // Kill node 0 once the customer has had a few messages acked there.
    await until(() => acked.filter((m) => m.sender.id === customer.user.sub).length >= 10, { timeout: 10_000, what: 'customer traffic on node 0' });
    const disconnected = new Promise((resolve) => customer.socket.once('disconnect', resolve));
    await cluster.kill(0);
    await disconnected;
    await customerLoop;

    // What the customer saw before the crash: the longest gap-free prefix.
    const seen = new Map();
    for (const m of received(customer.socket, 'new-message')) seen.set(m.seq, m);
    for (const m of acked.filter((x) => x.sender.id === customer.user.sub)) seen.set(m.seq, m);
    let contiguous = 0;
    while (seen.has(contiguous + 1)) contiguous += 1;
    assert.ok(contiguous >= 10, `the customer saw seq 1..${contiguous}`);

    // Reconnect to another node (the client's list of nodes: try the next one).
    const back = await online(cluster.node(1), 'customer', tenant, customer.user);
    const joined = await ok(back.socket, 'join-session', { sessionId: session.id, lastMessageId: seen.get(contiguous).id });
    const caughtUp = joined.messages;
    assert.deepEqual(caughtUp.map((m) => m.seq), range(caughtUp.length, contiguous + 1), 'catch-up is every later seq, in order');
    const resumed = sendLoop(back.socket, 'customer-again');
    await until(() => acked.filter((m) => m.sender.id === customer.user.sub).length >= 15, { timeout: 10_000, what: 'customer traffic on node 1' });
    stop = true;
    await Promise.all([...loops, resumed]);

    const stored = await listMessages(cluster.node(2), agent.user, session.id);
    const storedIds = new Set(stored.map((m) => m.id));
    assert.deepEqual(stored.map((m) => m.seq), range(stored.length), 'stored seqs are 1..n');
    const lost = acked.filter((m) => !storedIds.has(m.id));
    assert.deepEqual(lost, [], 'every acknowledged message is stored');

    // The reconnected customer has everything: what it saw before the crash, the
    // catch-up, and what came live after the join. A message committed on another
    // node while the join ran may fall between the two (docs/protocol.md §4): like the
    // reference client, fill a gap with one more join from the last gap-free seq.
    const last = stored.at(-1);
    await receivedCount(back.socket, 'new-message', 1, { timeout: 3000, filter: (m) => m.id === last.id }).catch(() => {});
    const view = new Map();
    for (const m of [...seen.values()].filter((x) => x.seq <= contiguous)) view.set(m.seq, m.id);
    for (const m of [...caughtUp, ...received(back.socket, 'new-message'), ...received(customer.socket, 'new-message')]) view.set(m.seq, m.id);
    for (const m of acked.filter((x) => x.sender.id === customer.user.sub)) view.set(m.seq, m.id);
    let prefix = 0;
    while (view.has(prefix + 1)) prefix += 1;
    if (prefix < last.seq) {
      const refill = await ok(back.socket, 'join-session', { sessionId: session.id, lastMessageId: view.get(prefix) });
      for (const m of refill.messages) view.set(m.seq, m.id);
    }
    assert.deepEqual(stored.filter((m) => view.get(m.seq) !== m.id).map((m) => m.seq), [], 'messages the customer never got');

    // The agent on a surviving node got every acknowledged message live (acks follow the broadcast).
    const agentGot = new Set(received(agent.socket, 'new-message').map((m) => m.id));
    await until(() => {
      for (const m of received(agent.socket, 'new-message')) agentGot.add(m.id);
      return acked.every((m) => agentGot.has(m.id));
    }, { timeout: 5000, what: 'every acked message at the agent' });

    // The survivors are healthy; a fresh agent counts the users still online.
    for (const i of [1, 2]) assert.equal((await health(cluster.node(i))).body.status, 'ok');
    const fresh = await online(cluster.node(2), 'agent', tenant);
    assertStats(fresh.snapshot, { onlineAgents: 3, onlineCustomers: 1 });

    // The killed node comes back on the same database and serves the history.
    await cluster.restart(0);
    const again = await online(cluster.node(0), 'customer', tenant, customer.user);
    const rejoined = await ok(again.socket, 'join-session', { sessionId: session.id, lastMessageId: stored[0].id });
    assert.equal(rejoined.messages.length, stored.length - 1);
  });
});

describe('a node that dies without a word', () => {
  it('is dropped from onlineAgents by the periodic stats refresh of the other nodes', { skip: clusterSkip }, async (t) => {
    const cluster = await spawnClusterFor(t, { nodes: 2, args: ['--stats-refresh-seconds', '1'] });
    const tenant = freshTenant();
    const watcher = await online(cluster.node(1), 'agent', tenant);
    await online(cluster.node(0), 'agent', tenant);
    await waitFor(watcher.socket, 'stats-update', { filter: (s) => s.onlineAgents === 2, timeout: 5000 });
    drain(watcher.socket, 'stats-update');
    await cluster.kill(0);
    // No change happens on node 1: only its periodic refresh can say it.
    const after = await waitFor(watcher.socket, 'stats-update', { filter: (s) => s.onlineAgents === 1, timeout: 8000 });
    assert.equal(after.onlineAgents, 1);
  });
});

describe('Redis going away and coming back', () => {
  // A Redis of this describe's own (the shared one must stay up), two nodes on it.
  const state = {};
  before(async () => {
    if (clusterSkip) return;
    state.redis = await spawnRedis();
    state.cluster = await spawnCluster({ nodes: 2, redisUrl: state.redis.url, args: fast });
  });
  afterEach(async (t) => {
    closeAllClients();
    // A todo test's failure is expected: its logs only with TEST_LOG.
    if (state.cluster && (t.passed === false || process.env.TEST_LOG)) {
      process.stderr.write(`\n--- cluster output up to "${t.name}" ---\n${state.cluster.logs()}\n--- end ---\n`);
    }
  });
  after(async () => {
    await state.cluster?.dispose();
    await state.redis?.dispose();
  });
  const tenant = freshTenant();
  /** A customer on node 0 and an agent on node 1 in a fresh session. */
  const pair = () => crossSession(state.cluster, tenant, { c: 0, a: 1 });

  it('relays events between the two nodes while Redis is up', { skip: clusterSkip }, async () => {
    const { session, customer, agent } = await pair();
    const sent = await ok(customer.socket, 'send-message', { sessionId: session.id, content: 'hi' });
    await waitFor(agent.socket, 'new-message', { ...CROSS, filter: (m) => m.id === sent.id });
  });

  it('reports degraded with adapter unavailable within bounds when Redis dies, and still stores and acks messages', { skip: clusterSkip }, async () => {
    const { session, customer, agent } = await pair();
    await state.redis.stop();
    for (const server of state.cluster.nodes) {
      const down = await until(async () => {
        const res = await health(server);
        assert.ok(res.ms < 3000, `/health took ${res.ms} ms with Redis down`);
        return res.body.adapter === 'unavailable' && res;
      }, { timeout: 5000, what: '/health adapter unavailable' });
      assert.equal(down.status, 200, 'the database is up: still 200');
      assert.deepEqual({ ...down.body, version: undefined }, { status: 'degraded', database: 'ok', adapter: 'unavailable', version: undefined });
    }
    // No hanging: the message is stored and acknowledged within bounds.
    const started = Date.now();
    const whileDown = await ok(customer.socket, 'send-message', { sessionId: session.id, content: 'while Redis is down' });
    assert.ok(Date.now() - started < 3000, `the ack took ${Date.now() - started} ms`);
    const listed = await listMessages(state.cluster.node(1), agent.user, session.id);
    assert.deepEqual(listed.map((m) => m.id), [whileDown.id], 'the other node lists it (from the database)');
    // Presence falls back to this node's own count; the snapshot still comes.
    const fresh = await online(state.cluster.node(1), 'agent', tenant);
    assert.ok(fresh.snapshot.onlineAgents >= 1);
  });

  it('keeps sending events to the node\'s own clients while Redis is down', { skip: clusterSkip }, async () => {
    const customer = await online(state.cluster.node(0), 'customer', tenant);
    const session = await openSession(state.cluster.node(0), customer.user);
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    const sent = await ok(customer.socket, 'send-message', { sessionId: session.id, content: 'to myself' });
    await waitFor(customer.socket, 'new-message', { filter: (m) => m.id === sent.id });
  });

  it('says adapter redis again on /health once Redis is back', { skip: clusterSkip }, async () => {
    await state.redis.start();
    for (const server of state.cluster.nodes) {
      const up = await until(async () => {
        const res = await health(server);
        return res.body.adapter === 'redis' && res;
      }, { timeout: 15_000, what: '/health adapter redis again' });
      assert.equal(up.body.status, 'ok');
    }
  });

  it('relays events between nodes again once Redis is back, by itself', { skip: clusterSkip }, async () => {
    const { session, customer, agent } = await pair();
    const sent = await ok(customer.socket, 'send-message', { sessionId: session.id, content: 'after Redis is back' });
    await waitFor(agent.socket, 'new-message', { timeout: 10_000, filter: (m) => m.id === sent.id });
    const reply = await ok(agent.socket, 'send-message', { sessionId: session.id, content: 'reply' });
    await waitFor(customer.socket, 'new-message', { timeout: 10_000, filter: (m) => m.id === reply.id });
  });
});

describe('PostgreSQL going away and coming back', () => {
  it('answers 503 unavailable (REST, acks) and /health database unavailable while the database refuses connections, then recovers', { skip: pgSkip }, async (t) => {
    const database = await createPostgresDatabase(process.env.TEST_PG_URL);
    const server = await spawnServerFor(t, { database, args: fast });
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
    await admin.connect();
    t.after(() => admin.end());
    const customer = await online(server, 'customer', 'default');
    const session = await openSession(server, customer.user);
    await ok(customer.socket, 'join-session', { sessionId: session.id });

    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database.name]);
    try {
      const down = await until(async () => {
        const res = await health(server);
        assert.ok(res.ms < 4000, `/health took ${res.ms} ms with the database down`);
        return res.status === 503 && res;
      }, { timeout: 10_000, what: '/health 503' });
      assert.deepEqual({ ...down.body, version: undefined }, { status: 'degraded', database: 'unavailable', adapter: 'local', version: undefined });
      await expectRestError(api(server, customer.user, 'GET', '/api/chat/sessions'), 503, 'unavailable');
      const ack = await emitAck(customer.socket, 'send-message', { sessionId: session.id, content: 'lost?' });
      assert.equal(ack.ok, false);
      assert.equal(ack.error.code, 'unavailable');
    } finally {
      await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
    }
    await until(async () => (await health(server)).status === 200, { timeout: 15_000, what: '/health 200 again' });
    const sent = await ok(customer.socket, 'send-message', { sessionId: session.id, content: 'back' });
    assert.equal(sent.seq, 1, 'the refused message was not stored');
  });
});
