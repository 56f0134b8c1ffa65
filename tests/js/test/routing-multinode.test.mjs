// docs/protocol.md §7 routing across nodes (Redis + PostgreSQL): a burst of
// sessions over 3 nodes is assigned once each and never over maxChats, the
// queue is numbered 1..N; a node killed with SIGKILL takes its agents offline
// and their chats move on, nothing lost or duplicated; a transfer between
// agents on different nodes reaches everyone.
//
// Needs TEST_PG_URL and TEST_REDIS_URL (source scripts/services.sh); skipped without.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, drain, expectError, expectNo, makeUser, ok, received, until, waitFor } from '../lib/clients.mjs';
import { api, expectStatus, listMessages, openSession } from '../lib/rest.mjs';
import { clusterSkip, freshTenant, spawnClusterFor, useCluster } from '../lib/cluster.mjs';

const ws = { transports: ['websocket'] };
const NODE_TIMEOUT_SECONDS = 3;
const ARGS = [
  '--send-rate-per-second', '10000', '--send-burst', '10000',
  '--routing-sweep-ms', '200', '--node-timeout-seconds', String(NODE_TIMEOUT_SECONDS), '--requeue-hold-seconds', '2',
];
// Events cross Redis on a busy 2-core machine.
const CROSS = { timeout: 5000 };
const ROUTED = { timeout: 8000 };

async function online(server, role, tenant, user = makeUser(role, { tenant })) {
  const socket = await connect(server, user.token, ws);
  const connected = await waitFor(socket, 'connected');
  return { user, socket, connected };
}

const patchSettings = (server, admin, body) => expectStatus(api(server, admin, 'PATCH', '/api/settings', { body }), 200, 'PATCH /api/settings:');

async function list(server, staff, status) {
  const body = await expectStatus(api(server, staff, 'GET', `/api/chat/sessions?status=${status}&limit=200`), 200, `${status} sessions:`);
  assert.equal(body.nextCursor, null, 'one page holds them all');
  return body.items;
}

async function agents(server, staff) {
  return (await expectStatus(api(server, staff, 'GET', '/api/agents'), 200, 'GET /api/agents:')).items;
}

const updated = (socket, sessionId, where = () => true, opts = ROUTED) => waitFor(socket, 'session-updated', {
  ...opts, filter: (s) => s?.id === sessionId && where(s),
});

const countBy = (values) => values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map());

describe('routing over three nodes', () => {
  const c = useCluster({ nodes: 3, args: ARGS });
  const node = (i) => c.cluster.node(i);

  it('assigns a burst of 50 sessions over 3 nodes to 5 agents of maxChats 3: 15 assigned once each, 35 queued 1..35', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const admin = makeUser('admin', { tenant });
    await patchSettings(node(0), admin, { routing: 'auto', defaultMaxChats: 3 });
    const team = [];
    for (let i = 0; i < 5; i += 1) {
      const agent = await online(node(i % 3), 'agent', tenant);
      assert.equal(agent.connected.agent.maxChats, 3);
      team.push(agent);
    }
    const customers = Array.from({ length: 50 }, () => makeUser('customer', { tenant }));
    const opened = await Promise.all(customers.map((customer, i) => openSession(node(i % 3), customer)));
    assert.equal(new Set(opened.map((s) => s.id)).size, 50);

    const active = await until(async () => {
      const items = await list(node(1), admin, 'active');
      return items.length >= 15 && items;
    }, { timeout: 10_000, what: '15 active sessions' });
    const assignedIds = new Set(active.map((s) => s.id));
    // Capacity is full: nothing else gets assigned, on any node, over several sweeps.
    for (const agent of team) {
      await expectNo(agent.socket, 'session-updated', 300, { filter: (s) => s.status === 'active' && !assignedIds.has(s.id) });
    }
    await expectNo(team[0].socket, 'session-updated', 1500, { filter: (s) => s.status === 'active' && !assignedIds.has(s.id) });

    const finalActive = await list(node(2), admin, 'active');
    assert.equal(finalActive.length, 15, `active sessions: ${finalActive.length}`);
    const perAgent = countBy(finalActive.map((s) => s.agent.id));
    assert.deepEqual([...perAgent.keys()].sort(), team.map((a) => a.user.sub).sort(), 'every agent got some');
    for (const [agentId, n] of perAgent) assert.equal(n, 3, `agent ${agentId} holds ${n}`);
    for (const state of await agents(node(0), admin)) {
      assert.ok(state.activeChats <= 3, `${state.id} has ${state.activeChats} active chats`);
      if (state.role === 'agent') assert.equal(state.activeChats, 3, `${state.id}`);
    }

    // Each assigned session was announced assigned exactly once, on every agent's socket (whatever its node).
    for (const agent of team) {
      await until(() => assignedIds.size === new Set(received(agent.socket, 'session-updated').filter((s) => s.status === 'active').map((s) => s.id)).size,
        { timeout: 5000, what: `every assignment at agent ${agent.user.sub}` });
      const counts = countBy(received(agent.socket, 'session-updated').filter((s) => s.status === 'active').map((s) => s.id));
      for (const id of assignedIds) assert.equal(counts.get(id), 1, `session ${id}: ${counts.get(id)} session-updated at ${agent.user.sub}`);
      assert.deepEqual([...counts.keys()].filter((id) => !assignedIds.has(id)), [], 'no session-updated for a session that stayed pending');
    }

    const pending = await list(node(0), admin, 'pending');
    assert.equal(pending.length, 35);
    assert.deepEqual(pending.map((s) => s.queue?.position).sort((a, b) => a - b), Array.from({ length: 35 }, (_, i) => i + 1));
    const byPosition = [...pending].sort((a, b) => a.queue.position - b.queue.position);
    for (let i = 1; i < byPosition.length; i += 1) {
      assert.ok(byPosition[i - 1].createdAt <= byPosition[i].createdAt,
        `position ${i} (${byPosition[i - 1].createdAt}) is not older than position ${i + 1} (${byPosition[i].createdAt})`);
    }
    for (const s of pending) {
      assert.equal(s.agent, null);
      assert.equal(s.queue.availableAgents, 5);
    }
    for (const s of finalActive) assert.equal(s.queue, null);
  });

  it('transfers between agents on different nodes, and back to the queue', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const A = await online(node(0), 'agent', tenant, makeUser('agent', { tenant, name: 'A on node 0' }));
    const B = await online(node(1), 'agent', tenant, makeUser('agent', { tenant, name: 'B on node 1' }));
    const customer = await online(node(2), 'customer', tenant);
    const otherTab = await online(node(0), 'customer', tenant, customer.user);
    const session = await openSession(node(2), customer.user, { message: 'help' });
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    const taken = (await ok(A.socket, 'join-session', { sessionId: session.id })).session;
    for (const s of [customer.socket, otherTab.socket, B.socket]) await updated(s, session.id, (x) => x.agent?.id === A.user.sub, CROSS);

    const moved = await ok(A.socket, 'transfer-session', { sessionId: session.id, toAgentId: B.user.sub });
    assert.deepEqual(moved.agent, B.user.ref);
    assert.equal(moved.assignedAt, taken.assignedAt);
    for (const s of [customer.socket, otherTab.socket, B.socket, A.socket]) {
      assert.deepEqual(await updated(s, session.id, (x) => x.agent?.id === B.user.sub, CROSS), moved);
    }
    await expectNo(customer.socket, 'session-updated', 500, { filter: (x) => x.id === session.id && x.agent?.id === B.user.sub });
    await waitFor(A.socket, 'agent-updated', { ...CROSS, filter: (a) => a.id === B.user.sub && a.activeChats === 1 });
    await expectError(A.socket, 'forbidden', 'send-message', { sessionId: session.id, content: 'A again' });

    await ok(B.socket, 'join-session', { sessionId: session.id });
    const reply = await ok(B.socket, 'send-message', { sessionId: session.id, content: 'B here' });
    assert.equal((await waitFor(customer.socket, 'new-message', { ...CROSS, filter: (m) => m.id === reply.id })).content, 'B here');

    // Back to the queue from node 1: node 0's agent and node 2's customer hear of it.
    drain(A.socket, 'new-pending-session'); // the one of the opening
    drain(otherTab.socket, 'queue-update');
    const back = await ok(B.socket, 'transfer-session', { sessionId: session.id });
    assert.equal(back.status, 'pending');
    assert.equal(back.agent, null);
    assert.equal(back.createdAt, session.createdAt);
    assert.deepEqual(await waitFor(A.socket, 'new-pending-session', { ...CROSS, filter: (x) => x.id === session.id }), back);
    assert.deepEqual(await updated(customer.socket, session.id, (x) => x.status === 'pending', CROSS), back);
    const q = await waitFor(otherTab.socket, 'queue-update', { ...CROSS, filter: (u) => u.sessionId === session.id });
    assert.equal(q.queue.position, 1);
    const again = await ok(A.socket, 'join-session', { sessionId: session.id });
    assert.deepEqual(again.session.agent, A.user.ref);
    assert.equal(again.session.assignedAt, taken.assignedAt);
    assert.deepEqual((await updated(customer.socket, session.id, (x) => x.status === 'active', CROSS)).agent, A.user.ref);
  });

  it('sends each agent-updated once to every agent, whichever node they are on', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const watchers = [await online(node(0), 'agent', tenant), await online(node(2), 'agent', tenant)];
    const agent = await online(node(1), 'agent', tenant);
    const admin = makeUser('admin', { tenant });
    for (const w of watchers) await waitFor(w.socket, 'agent-updated', { ...CROSS, filter: (a) => a.id === agent.user.sub && a.online });
    const away = await ok(agent.socket, 'set-availability', { status: 'away' });
    for (const w of watchers) assert.deepEqual(await waitFor(w.socket, 'agent-updated', { ...CROSS, filter: (a) => a.id === agent.user.sub && a.availability === 'away' }), away);
    await waitFor(agent.socket, 'agent-updated', { ...CROSS, filter: (a) => a.id === agent.user.sub && a.availability === 'away' });
    drain(agent.socket, 'agent-updated'); // its own earlier states: the watchers' count them
    const capped = await expectStatus(api(node(2), admin, 'PATCH', `/api/agents/${agent.user.sub}`, { body: { maxChats: 2 } }), 200);
    assert.equal(capped.maxChats, 2);
    for (const w of [...watchers, agent]) {
      assert.deepEqual(await waitFor(w.socket, 'agent-updated', { ...CROSS, filter: (a) => a.id === agent.user.sub && a.maxChats === 2 }), capped);
    }
    for (const w of [...watchers, agent]) {
      await expectNo(w.socket, 'agent-updated', 1200, { filter: (a) => a.id === agent.user.sub });
    }
    // One per change on each socket, although three nodes could each have sent it.
    for (const w of watchers) {
      const all = received(w.socket, 'agent-updated').filter((a) => a.id === agent.user.sub);
      assert.equal(new Set(all.map((a) => JSON.stringify(a))).size, all.length, `repeated agent-updated: ${JSON.stringify(all)}`);
    }
  });

  it('counts availableAgents over all nodes in service-status and connected.service', { skip: clusterSkip }, async () => {
    const tenant = freshTenant();
    const customer = await online(node(0), 'customer', tenant);
    assert.equal(customer.connected.service.availableAgents, 0);
    const a1 = await online(node(1), 'agent', tenant);
    await waitFor(customer.socket, 'service-status', { ...CROSS, filter: (s) => s.availableAgents === 1 });
    await online(node(2), 'agent', tenant);
    await waitFor(customer.socket, 'service-status', { ...CROSS, filter: (s) => s.availableAgents === 2 });
    const late = await online(node(2), 'customer', tenant);
    assert.equal(late.connected.service.availableAgents, 2);
    await ok(a1.socket, 'set-availability', { status: 'away' });
    await waitFor(customer.socket, 'service-status', { ...CROSS, filter: (s) => s.availableAgents === 1 });
    const seen = received(customer.socket, 'service-status').map((s) => s.availableAgents);
    for (let i = 1; i < seen.length; i += 1) assert.notEqual(seen[i], seen[i - 1], `service-status repeated across nodes: ${seen}`);
  });
});

describe('a node killed with SIGKILL while its agents hold chats', () => {
  it('takes its agents offline, moves their chats on, and loses or duplicates nothing', { skip: clusterSkip }, async (t) => {
    const cluster = await spawnClusterFor(t, { nodes: 3, args: ARGS });
    const node = (i) => cluster.node(i);
    const tenant = freshTenant();
    const admin = makeUser('admin', { tenant });
    await patchSettings(node(1), admin, { routing: 'auto', reassignAfterOfflineSeconds: 1 });
    const watch = await online(node(2), 'agent', tenant);
    await ok(watch.socket, 'set-availability', { status: 'away' });

    // A1 on node 0 gets s1 and s2; A2 on node 1, online afterwards, gets s3.
    const A1 = await online(node(0), 'agent', tenant);
    const c1 = await online(node(0), 'customer', tenant);
    const c2 = await online(node(2), 'customer', tenant);
    const s1 = await openSession(node(0), c1.user, { message: 'c1 first' });
    assert.deepEqual((await updated(watch.socket, s1.id, (x) => x.status === 'active')).agent, A1.user.ref);
    const s2 = await openSession(node(2), c2.user, { message: 'c2 first' });
    assert.deepEqual((await updated(watch.socket, s2.id, (x) => x.status === 'active')).agent, A1.user.ref);
    const A2 = await online(node(1), 'agent', tenant);
    const c3 = await online(node(0), 'customer', tenant);
    const s3 = await openSession(node(0), c3.user, { message: 'c3 first' });
    assert.deepEqual((await updated(watch.socket, s3.id, (x) => x.status === 'active')).agent, A2.user.ref);

    const acked = [];
    for (const [c, s] of [[c1, s1], [c2, s2], [c3, s3]]) {
      await ok(c.socket, 'join-session', { sessionId: s.id });
      acked.push(await ok(c.socket, 'send-message', { sessionId: s.id, content: `${c.user.sub} before the crash`, clientMessageId: 'before' }));
    }
    await ok(A1.socket, 'join-session', { sessionId: s1.id });
    acked.push(await ok(A1.socket, 'send-message', { sessionId: s1.id, content: 'A1 answers' }));

    const killedAt = Date.now();
    await cluster.kill(0);

    // A1 is offline for everyone within the node timeout and a sweep.
    const gone = await waitFor(watch.socket, 'agent-updated', { timeout: (NODE_TIMEOUT_SECONDS + 5) * 1000, filter: (a) => a.id === A1.user.sub && a.online === false });
    const goneAfter = watch.socket.received.find((e) => e.payload === gone).at - killedAt;
    t.diagnostic(`A1 offline ${goneAfter} ms after the kill`);
    // Dead once its last heartbeat is NODE_TIMEOUT old, seen by a sweep, then at most 1 s of coalescing (and a busy machine).
    assert.ok(goneAfter <= (NODE_TIMEOUT_SECONDS + 2) * 1000, `offline ${goneAfter} ms after the kill`);

    // Then A1's chats move to A2, the one routable agent with room, once each.
    for (const s of [s1, s2]) {
      const moved = await updated(watch.socket, s.id, (x) => x.agent?.id === A2.user.sub);
      assert.equal(moved.status, 'active');
      assert.notEqual(moved.assignedAt, null);
    }
    await expectNo(watch.socket, 'session-updated', 1500, { filter: (x) => [s1.id, s2.id, s3.id].includes(x.id) });
    assert.equal(received(watch.socket, 'session-updated').filter((x) => x.agent?.id === A2.user.sub).length, 3, 's1, s2 moved once each, s3 assigned once');
    const states = Object.fromEntries((await agents(node(1), admin)).map((a) => [a.id, a]));
    assert.equal(states[A1.user.sub].online, false);
    assert.equal(states[A1.user.sub].activeChats, 0);
    assert.equal(states[A2.user.sub].activeChats, 3);
    const active = await list(node(2), admin, 'active');
    assert.deepEqual(active.map((s) => s.id).sort(), [s1.id, s2.id, s3.id].sort());
    assert.deepEqual((await list(node(2), admin, 'pending')).map((s) => s.id), []);

    // The customers of node 0 reconnect elsewhere and are served by A2.
    for (const s of [s1, s2, s3]) await ok(A2.socket, 'join-session', { sessionId: s.id });
    for (const [c, s, where] of [[c1, s1, 1], [c3, s3, 2]]) {
      const back = await online(node(where), 'customer', tenant, c.user);
      const joined = await ok(back.socket, 'join-session', { sessionId: s.id });
      assert.deepEqual(joined.session.agent, A2.user.ref);
      const retry = await ok(back.socket, 'send-message', { sessionId: s.id, content: 'retried', clientMessageId: 'before' });
      assert.equal(retry.id, acked.find((m) => m.sessionId === s.id && m.clientMessageId === 'before').id, 'a retry after the crash is not stored twice');
      const sent = await ok(back.socket, 'send-message', { sessionId: s.id, content: 'still there?' });
      await waitFor(A2.socket, 'new-message', { ...CROSS, filter: (m) => m.id === sent.id });
      const reply = await ok(A2.socket, 'send-message', { sessionId: s.id, content: 'yes, A2 here' });
      await waitFor(back.socket, 'new-message', { ...CROSS, filter: (m) => m.id === reply.id });
      acked.push(sent, reply);
    }
    // c2 never left node 2: A2's answer reaches it there.
    // c2 heard of the move once, in its user room.
    await updated(c2.socket, s2.id, (x) => x.agent?.id === A2.user.sub, CROSS);
    assert.equal(received(c2.socket, 'session-updated').filter((x) => x.id === s2.id && x.agent?.id === A2.user.sub).length, 1);
    const toC2 = await ok(A2.socket, 'send-message', { sessionId: s2.id, content: 'A2 takes over' });
    await waitFor(c2.socket, 'new-message', { ...CROSS, filter: (m) => m.id === toC2.id });
    acked.push(toC2);

    for (const s of [s1, s2, s3]) {
      const stored = await listMessages(node(2), admin, s.id);
      assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i + 1), `seqs of ${s.id}`);
      assert.equal(new Set(stored.map((m) => m.id)).size, stored.length);
      const ids = new Set(stored.map((m) => m.id));
      assert.deepEqual(acked.filter((m) => m.sessionId === s.id && !ids.has(m.id)), [], 'every acknowledged message is stored');
    }
  });
});
