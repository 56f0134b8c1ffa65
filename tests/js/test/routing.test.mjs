// docs/protocol.md §7 routing (v1.3) on one node: AgentState and availability,
// tenant settings, the fairness order of auto-assignment, capacity, the queue
// (positions, queue-update, estimated wait), service status, transfer (to an
// agent, back to the queue), offline reassignment, business hours, and the
// v1.2 flow untouched with routing 'manual'.
//
// Every test has a tenant of its own, so one server serves the whole file.
// Time-bound rules run on short settings: --routing-sweep-ms 200,
// --requeue-hold-seconds 2, reassignAfterOfflineSeconds 1 (PATCHed per tenant).
// Runs on SQLite by default and on PostgreSQL with TEST_DATABASE_URL.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  connect, disconnect, drain, emitAck, expectError, expectNo, makeUser, ok, received, uniqueId, until, waitFor,
} from '../lib/clients.mjs';
import { api, expectRestError, expectStatus, getSession, openSession } from '../lib/rest.mjs';
import { spawnServerFor, useServer } from '../lib/server.mjs';

const ws = { transports: ['websocket'] };
const SWEEP_MS = 200;
const HOLD_SECONDS = 2;
const ARGS = ['--routing-sweep-ms', String(SWEEP_MS), '--requeue-hold-seconds', String(HOLD_SECONDS)];
// §7: "within 5 s of capacity appearing"; coalesced events within a second of the change.
const ROUTED = { timeout: 5000 };
const COALESCED = { timeout: 3000 };
// Long enough for several sweeps: what has not happened by then is not going to.
const QUIET_MS = 1200;

const AGENT_STATE_KEYS = ['activeChats', 'availability', 'id', 'maxChats', 'name', 'online', 'role'];
const QUEUE_KEYS = ['availableAgents', 'estimatedWaitSeconds', 'position'];
const SERVICE_KEYS = ['availableAgents', 'offlineMessage', 'open'];
const SETTINGS_KEYS = ['businessHours', 'defaultMaxChats', 'offlineMessage', 'ratingsEnabled', 'reassignAfterOfflineSeconds', 'routing'];

// ---------------------------------------------------------------- helpers

/** A user of `tenant` connected over websocket; `connected` consumed and returned. */
async function online(server, role, tenant, user = makeUser(role, { tenant })) {
  const socket = await connect(server, user.token, ws);
  const connected = await waitFor(socket, 'connected');
  return { user, socket, connected };
}

/** An agent connected and set 'away': hears agents:{tenant} but is never routed to. */
async function observer(server, tenant) {
  const o = await online(server, 'agent', tenant);
  await ok(o.socket, 'set-availability', { status: 'away' });
  return o;
}

function assertAgentState(state, expected = {}) {
  assert.deepEqual(Object.keys(state ?? {}).sort(), AGENT_STATE_KEYS, `AgentState fields: ${JSON.stringify(state)}`);
  assert.ok(['agent', 'admin'].includes(state.role), `AgentState.role ${state.role}`);
  assert.ok(['available', 'away'].includes(state.availability));
  assert.equal(typeof state.online, 'boolean');
  assert.ok(Number.isInteger(state.activeChats) && state.activeChats >= 0);
  assert.ok(Number.isInteger(state.maxChats) && state.maxChats >= 0);
  for (const [key, value] of Object.entries(expected)) assert.deepEqual(state[key], value, `AgentState.${key} in ${JSON.stringify(state)}`);
}

function assertQueue(queue, expected = {}) {
  assert.deepEqual(Object.keys(queue ?? {}).sort(), QUEUE_KEYS, `QueueInfo fields: ${JSON.stringify(queue)}`);
  assert.ok(Number.isInteger(queue.position) && queue.position >= 1, `queue.position ${queue.position}`);
  assert.ok(queue.estimatedWaitSeconds === null || (Number.isInteger(queue.estimatedWaitSeconds) && queue.estimatedWaitSeconds >= 0),
    `queue.estimatedWaitSeconds ${queue.estimatedWaitSeconds}`);
  assert.ok(Number.isInteger(queue.availableAgents) && queue.availableAgents >= 0);
  for (const [key, value] of Object.entries(expected)) assert.deepEqual(queue[key], value, `queue.${key} in ${JSON.stringify(queue)}`);
}

function assertService(service, expected = {}) {
  assert.deepEqual(Object.keys(service ?? {}).sort(), SERVICE_KEYS, `ServiceStatus fields: ${JSON.stringify(service)}`);
  for (const [key, value] of Object.entries(expected)) assert.deepEqual(service[key], value, `service.${key} in ${JSON.stringify(service)}`);
}

const getSettings = (server, user) => expectStatus(api(server, user, 'GET', '/api/settings'), 200, 'GET /api/settings:');
const patchSettings = (server, admin, body) => expectStatus(api(server, admin, 'PATCH', '/api/settings', { body }), 200, `PATCH /api/settings ${JSON.stringify(body).slice(0, 200)}:`);
const service = (server, user) => expectStatus(api(server, user, 'GET', '/api/chat/service'), 200, 'GET /api/chat/service:');
const patchAgent = (server, user, id, body) => expectStatus(api(server, user, 'PATCH', `/api/agents/${encodeURIComponent(id)}`, { body }), 200, `PATCH /api/agents/${id} ${JSON.stringify(body)}:`);

async function agents(server, user) {
  const body = await expectStatus(api(server, user, 'GET', '/api/agents'), 200, 'GET /api/agents:');
  assert.ok(Array.isArray(body?.items), `GET /api/agents: { items }: ${JSON.stringify(body)}`);
  return body.items;
}

async function agentState(server, user, id) {
  const state = (await agents(server, user)).find((a) => a.id === id);
  assert.ok(state, `agent ${id} is not in GET /api/agents`);
  return state;
}

/** The session-updated for `sessionId` on `socket` that passes `where`. */
const updated = (socket, sessionId, where = () => true, opts = ROUTED) => waitFor(socket, 'session-updated', {
  ...opts, filter: (s) => s?.id === sessionId && where(s),
});

/** Waits for `sessionId` to be assigned (session-updated, status active) and returns the session. */
const assigned = (socket, sessionId, opts = ROUTED) => updated(socket, sessionId, (s) => s.status === 'active', opts);

/** When `socket` received the event whose payload is `payload` (the same object waitFor returned). */
function arrival(socket, payload) {
  const entry = socket.received.find((e) => e.payload === payload);
  assert.ok(entry, 'payload not received on this socket');
  return entry.at;
}

/** A fresh customer opens a session (REST); returns { customer, session }. */
async function customerOpens(server, tenant, body = {}) {
  const customer = makeUser('customer', { tenant });
  const session = await openSession(server, customer, body);
  return { customer, session };
}

/** An admin of the tenant (REST only: never online, so never routable) with routing set. */
async function tenantWith(server, settings = {}) {
  const tenant = uniqueId('t');
  const admin = makeUser('admin', { tenant });
  const current = await patchSettings(server, admin, settings);
  return { tenant, admin, settings: current };
}

async function pendingList(server, staff) {
  const body = await expectStatus(api(server, staff, 'GET', '/api/chat/sessions?status=pending&limit=200'), 200, 'pending sessions:');
  return body.items;
}

// ---------------------------------------------------------------- business-hours clock

const DAY_KEYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const WEEKDAY = { Sun: 'sun', Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat' };

/** The wall clock of `timeZone` now: { day: 'mon'…, minutes: minutes since local midnight }. */
function localNow(timeZone, at = new Date()) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(at).map((p) => [p.type, p.value]));
  return { day: WEEKDAY[parts.weekday], minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

/** The UTC offset of `timeZone` at `at`, in minutes (east positive). */
function offsetMinutes(timeZone, at) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(at).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute));
  return Math.round((asUtc - Math.floor(at.getTime() / 60_000) * 60_000) / 60_000);
}

const hhmm = (minutes) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/** A zone of `candidates` whose local time now is between 02:00 and 21:00 (ranges of ±1 h stay inside the day). */
function zoneAwayFromMidnight(candidates, extra = () => true) {
  return candidates.find((zone) => {
    const { minutes } = localNow(zone);
    return minutes >= 120 && minutes <= 21 * 60 && extra(zone);
  });
}

/** Weekly hours with `ranges` on the local day of `zone` now and nothing on any other day. */
function todayOnly(zone, ranges) {
  const { day } = localNow(zone);
  return { timezone: zone, weekly: { [day]: ranges.map(([a, b]) => [hhmm(a), hhmm(b)]) } };
}

// ================================================================ AgentState

describe('agent state', () => {
  const srv = useServer({ args: ARGS });

  it('sends connected.agent to staff only, and connected.service to everyone', async () => {
    const tenant = uniqueId('t');
    const agent = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'Ada' }));
    assertAgentState(agent.connected.agent, {
      id: agent.user.sub, name: 'Ada', role: 'agent', availability: 'available', online: true, activeChats: 0, maxChats: 5,
    });
    assertService(agent.connected.service, { open: true, offlineMessage: null });

    const admin = await online(srv.server, 'admin', tenant, makeUser('admin', { tenant, name: 'Root' }));
    assertAgentState(admin.connected.agent, {
      id: admin.user.sub, name: 'Root', role: 'admin', availability: 'available', online: true, activeChats: 0, maxChats: 5,
    });

    const customer = await online(srv.server, 'customer', tenant);
    assert.equal('agent' in customer.connected, false, `a customer's connected has no agent: ${JSON.stringify(customer.connected)}`);
    assertService(customer.connected.service, { open: true, availableAgents: 2, offlineMessage: null });
    assert.deepEqual(customer.connected.user, customer.user.ref);
  });

  it('acks set-availability with the AgentState and tells agents:{tenant} (not customers) with agent-updated', async () => {
    const tenant = uniqueId('t');
    const agent = await online(srv.server, 'agent', tenant);
    const colleague = await online(srv.server, 'agent', tenant);
    const customer = await online(srv.server, 'customer', tenant);
    const outsider = await online(srv.server, 'agent', uniqueId('t'));

    const state = await ok(agent.socket, 'set-availability', { status: 'away' });
    assertAgentState(state, { id: agent.user.sub, availability: 'away', online: true, activeChats: 0 });
    assert.deepEqual(await waitFor(colleague.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.availability === 'away' }), state);
    await waitFor(agent.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.availability === 'away' });
    await expectNo(customer.socket, 'agent-updated', 300);
    await expectNo(outsider.socket, 'agent-updated', 0, { filter: (a) => a.id === agent.user.sub });
    assertAgentState(await agentState(srv.server, colleague.user, agent.user.sub), { availability: 'away' });

    const back = await ok(agent.socket, 'set-availability', { status: 'available' });
    assertAgentState(back, { availability: 'available' });
    await waitFor(colleague.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.availability === 'available' });

    for (const bad of [{ status: 'busy' }, {}, { status: 1 }, 'away', null]) {
      await expectError(agent.socket, 'invalid_payload', 'set-availability', bad);
    }
    assertAgentState(await agentState(srv.server, colleague.user, agent.user.sub), { availability: 'available' });
  });

  it('forbids customers set-availability and transfer-session', async () => {
    const tenant = uniqueId('t');
    const customer = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, customer.user);
    const agent = await online(srv.server, 'agent', tenant);
    await ok(agent.socket, 'join-session', { sessionId: session.id });
    await expectError(customer.socket, 'forbidden', 'set-availability', { status: 'away' });
    await expectError(customer.socket, 'forbidden', 'transfer-session', { sessionId: session.id });
    await expectError(customer.socket, 'forbidden', 'transfer-session', { sessionId: session.id, toAgentId: agent.user.sub });
    await expectRestError(api(srv.server, customer.user, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body: {} }), 403, 'forbidden');
    const after = await getSession(srv.server, agent.user, session.id);
    assert.equal(after.status, 'active');
    assert.deepEqual(after.agent, agent.user.ref);
  });

  it('keeps availability across a reconnect; online follows the sockets', async () => {
    const tenant = uniqueId('t');
    const watcher = await online(srv.server, 'agent', tenant);
    const agentUser = makeUser('agent', { tenant });
    const first = await online(srv.server, 'agent', tenant, agentUser);
    await ok(first.socket, 'set-availability', { status: 'away' });
    disconnect(first.socket);
    await waitFor(watcher.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agentUser.sub && a.online === false });
    assertAgentState(await agentState(srv.server, watcher.user, agentUser.sub), { online: false, availability: 'away' });

    const again = await online(srv.server, 'agent', tenant, agentUser);
    assertAgentState(again.connected.agent, { id: agentUser.sub, availability: 'away', online: true });
    await waitFor(watcher.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agentUser.sub && a.online === true });
    const customer = await online(srv.server, 'customer', tenant);
    assertService(customer.connected.service, { availableAgents: 1 }); // the watcher only: the agent is away
  });

  it('keeps availability and maxChats across a server restart', async (t) => {
    const server = await spawnServerFor(t, { args: ARGS });
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const agentUser = makeUser('agent', { tenant });
    const first = await online(server, 'agent', tenant, agentUser);
    await ok(first.socket, 'set-availability', { status: 'away' });
    await patchAgent(server, admin, agentUser.sub, { maxChats: 7 });
    await server.restart();
    const again = await online(server, 'agent', tenant, agentUser);
    assertAgentState(again.connected.agent, { id: agentUser.sub, availability: 'away', online: true, maxChats: 7 });
    assertAgentState(await agentState(server, admin, agentUser.sub), { availability: 'away', maxChats: 7 });
  });

  it('lists the tenant\'s agents and admins by name with GET /api/agents, to staff only', async () => {
    const tenant = uniqueId('t');
    const zed = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'Zed' }));
    const amy = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'Amy' }));
    const bob = makeUser('admin', { tenant, name: 'Bob' });
    const mia = makeUser('agent', { tenant, name: 'Mia' });
    await expectStatus(api(srv.server, bob, 'GET', '/api/chat/stats'), 200);
    await expectStatus(api(srv.server, mia, 'GET', '/api/chat/stats'), 200); // known through REST only: never online
    await ok(amy.socket, 'set-availability', { status: 'away' });
    const customer = await online(srv.server, 'customer', tenant);
    await online(srv.server, 'agent', uniqueId('t'), makeUser('agent', { name: 'Abe' })); // another tenant

    const items = await agents(srv.server, bob);
    assert.deepEqual(items.map((a) => a.name), ['Amy', 'Bob', 'Mia', 'Zed']);
    items.forEach((a) => assertAgentState(a));
    const byName = Object.fromEntries(items.map((a) => [a.name, a]));
    assert.deepEqual(byName.Amy, { id: amy.user.sub, name: 'Amy', role: 'agent', availability: 'away', online: true, activeChats: 0, maxChats: 5 });
    assert.deepEqual(byName.Zed, { id: zed.user.sub, name: 'Zed', role: 'agent', availability: 'available', online: true, activeChats: 0, maxChats: 5 });
    assert.deepEqual(byName.Bob, { id: bob.sub, name: 'Bob', role: 'admin', availability: 'available', online: false, activeChats: 0, maxChats: 5 });
    assert.deepEqual(byName.Mia, { id: mia.sub, name: 'Mia', role: 'agent', availability: 'available', online: false, activeChats: 0, maxChats: 5 });
    assert.deepEqual(await agents(srv.server, zed.user), items, 'agents see the same list');
    await expectRestError(api(srv.server, customer.user, 'GET', '/api/agents'), 403, 'forbidden');
    await expectRestError(api(srv.server, null, 'GET', '/api/agents'), 401, 'unauthorized');
  });

  it('coalesces agent-updated to one per agent per second, each one a change, the last one the final state', async () => {
    const tenant = uniqueId('t');
    const watcher = await online(srv.server, 'agent', tenant);
    const agent = await online(srv.server, 'agent', tenant);
    await waitFor(watcher.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.online === true });
    const startedAt = Date.now();
    for (const status of ['away', 'available', 'away', 'available', 'away']) {
      assertAgentState(await ok(agent.socket, 'set-availability', { status }), { availability: status });
    }
    const final = await waitFor(watcher.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.availability === 'away' });
    assertAgentState(final, { id: agent.user.sub, availability: 'away', online: true });
    await expectNo(watcher.socket, 'agent-updated', QUIET_MS, { filter: (a) => a.id === agent.user.sub });
    const entries = watcher.socket.received.filter((e) => e.event === 'agent-updated' && e.payload.id === agent.user.sub);
    const during = entries.filter((e) => e.at >= startedAt);
    assert.ok(during.length <= Math.ceil((Date.now() - startedAt) / 1000) + 1, `${during.length} agent-updated for 5 changes`);
    for (let i = 1; i < entries.length; i += 1) {
      assert.ok(entries[i].at - entries[i - 1].at >= 900, `two agent-updated ${entries[i].at - entries[i - 1].at} ms apart`);
      assert.notDeepEqual(entries[i].payload, entries[i - 1].payload, 'an agent-updated that changed nothing');
    }
  });

  it('counts activeChats and sends agent-updated when it changes', async () => {
    const tenant = uniqueId('t');
    const watcher = await observer(srv.server, tenant);
    const agent = await online(srv.server, 'agent', tenant);
    const { session } = await customerOpens(srv.server, tenant);
    await ok(agent.socket, 'join-session', { sessionId: session.id });
    await waitFor(watcher.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.activeChats === 1 });
    assertAgentState(await agentState(srv.server, watcher.user, agent.user.sub), { activeChats: 1 });
    await ok(agent.socket, 'close-session', { sessionId: session.id });
    await waitFor(watcher.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.activeChats === 0 });
  });

  it('applies PATCH /api/agents/{id}: an agent their own availability only, an admin maxChats 0..100 of any staff', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const agent = await online(srv.server, 'agent', tenant);
    const other = await online(srv.server, 'agent', tenant);
    const customer = makeUser('customer', { tenant });
    await openSession(srv.server, customer); // known to the server, but not staff

    const away = await patchAgent(srv.server, agent.user, agent.user.sub, { availability: 'away' });
    assertAgentState(away, { id: agent.user.sub, availability: 'away', maxChats: 5 });
    await waitFor(other.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.availability === 'away' });

    await expectRestError(api(srv.server, agent.user, 'PATCH', `/api/agents/${agent.user.sub}`, { body: { maxChats: 9 } }), 403, 'forbidden');
    await expectRestError(api(srv.server, agent.user, 'PATCH', `/api/agents/${agent.user.sub}`, { body: { availability: 'available', maxChats: 9 } }), 403, 'forbidden');
    await expectRestError(api(srv.server, agent.user, 'PATCH', `/api/agents/${other.user.sub}`, { body: { availability: 'away' } }), 403, 'forbidden');
    await expectRestError(api(srv.server, customer, 'PATCH', `/api/agents/${agent.user.sub}`, { body: { availability: 'available' } }), 403, 'forbidden');

    assertAgentState(await patchAgent(srv.server, admin, agent.user.sub, { maxChats: 0 }), { maxChats: 0, availability: 'away' });
    assertAgentState(await patchAgent(srv.server, admin, agent.user.sub, { maxChats: 100 }), { maxChats: 100 });
    await waitFor(other.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === agent.user.sub && a.maxChats === 100 });
    assertAgentState(await patchAgent(srv.server, admin, other.user.sub, { availability: 'away', maxChats: 3 }),
      { id: other.user.sub, availability: 'away', maxChats: 3 });

    for (const body of [{ maxChats: 101 }, { maxChats: -1 }, { maxChats: 2.5 }, { maxChats: '3' },
      { availability: 'busy' }, { availability: 7 }, { availability: 'available', maxChats: 101 }]) {
      await expectRestError(api(srv.server, admin, 'PATCH', `/api/agents/${agent.user.sub}`, { body }), [400, 422], 'invalid_payload', JSON.stringify(body));
    }
    assertAgentState(await agentState(srv.server, admin, agent.user.sub), { availability: 'away', maxChats: 100 });

    await expectRestError(api(srv.server, admin, 'PATCH', `/api/agents/${uniqueId('nobody')}`, { body: { maxChats: 3 } }), 404, 'not_found');
    const stranger = await online(srv.server, 'agent', uniqueId('t'));
    await expectRestError(api(srv.server, admin, 'PATCH', `/api/agents/${stranger.user.sub}`, { body: { maxChats: 3 } }), 404, 'not_found');
    assertAgentState(stranger.connected.agent, { maxChats: 5 });
    const strangerAdmin = makeUser('admin', { tenant: stranger.user.tenant });
    assertAgentState(await agentState(srv.server, strangerAdmin, stranger.user.sub), { maxChats: 5 });
  });

  it('gives agents without a maxChats of their own the tenant\'s defaultMaxChats', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const plain = await online(srv.server, 'agent', tenant);
    const own = await online(srv.server, 'agent', tenant);
    await patchAgent(srv.server, admin, own.user.sub, { maxChats: 2 });
    await patchSettings(srv.server, admin, { defaultMaxChats: 9 });
    assertAgentState(await agentState(srv.server, admin, plain.user.sub), { maxChats: 9 });
    assertAgentState(await agentState(srv.server, admin, own.user.sub), { maxChats: 2 });
    const newcomer = await online(srv.server, 'agent', tenant);
    assertAgentState(newcomer.connected.agent, { maxChats: 9 });
  });
});

// ================================================================ Settings

describe('tenant settings', () => {
  const srv = useServer({ args: ARGS });

  it('starts every tenant at the defaults of a server started without routing flags', async () => {
    const tenant = uniqueId('t');
    const agent = makeUser('agent', { tenant });
    assert.deepEqual(await getSettings(srv.server, agent), {
      routing: 'manual', defaultMaxChats: 5, reassignAfterOfflineSeconds: 300, businessHours: null, offlineMessage: null, ratingsEnabled: true,
    });
  });

  it('takes its defaults from --routing, --agent-max-chats and --reassign-after-offline-seconds', async (t) => {
    const server = await spawnServerFor(t, {
      args: [...ARGS, '--routing', 'auto', '--agent-max-chats', '7', '--reassign-after-offline-seconds', '42'],
    });
    const tenant = uniqueId('t');
    const agent = await online(server, 'agent', tenant);
    assert.deepEqual(await getSettings(server, agent.user), {
      routing: 'auto', defaultMaxChats: 7, reassignAfterOfflineSeconds: 42, businessHours: null, offlineMessage: null, ratingsEnabled: true,
    });
    assertAgentState(agent.connected.agent, { maxChats: 7 });
    // auto by default: a new session goes to the routable agent without anyone taking it.
    const { session } = await customerOpens(server, tenant);
    assert.deepEqual((await assigned(agent.socket, session.id)).agent, agent.user.ref);
  });

  it('applies a partial PATCH and keeps the other fields; tenants do not share settings', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const agent = makeUser('agent', { tenant });
    const hours = { timezone: 'Europe/Madrid', weekly: { mon: [['09:00', '13:00'], ['15:00', '18:00']], sat: [] } };
    assert.deepEqual(await patchSettings(srv.server, admin, { offlineMessage: 'Back at nine' }), {
      routing: 'manual', defaultMaxChats: 5, reassignAfterOfflineSeconds: 300, businessHours: null, offlineMessage: 'Back at nine', ratingsEnabled: true,
    });
    assert.deepEqual(await patchSettings(srv.server, admin, { routing: 'auto', defaultMaxChats: 3 }), {
      routing: 'auto', defaultMaxChats: 3, reassignAfterOfflineSeconds: 300, businessHours: null, offlineMessage: 'Back at nine', ratingsEnabled: true,
    });
    const withHours = await patchSettings(srv.server, admin, { businessHours: hours, reassignAfterOfflineSeconds: null, ratingsEnabled: false });
    assert.deepEqual(Object.keys(withHours).sort(), SETTINGS_KEYS);
    assert.equal(withHours.businessHours.timezone, 'Europe/Madrid');
    assert.deepEqual(withHours.businessHours.weekly.mon, [['09:00', '13:00'], ['15:00', '18:00']]);
    assert.ok(withHours.businessHours.weekly.sat === undefined || withHours.businessHours.weekly.sat.length === 0);
    for (const day of DAY_KEYS.filter((d) => d !== 'mon' && d !== 'sat')) {
      assert.ok(!withHours.businessHours.weekly[day]?.length, `${day} is closed`);
    }
    assert.equal(withHours.reassignAfterOfflineSeconds, null);
    assert.equal(withHours.ratingsEnabled, false);
    assert.equal(withHours.offlineMessage, 'Back at nine');
    assert.deepEqual(await getSettings(srv.server, agent), withHours, 'agents read what the admin set');
    assert.deepEqual(await patchSettings(srv.server, admin, { offlineMessage: null, businessHours: null }),
      { ...withHours, offlineMessage: null, businessHours: null });
    // Edges of the ranges are accepted.
    const edges = await patchSettings(srv.server, admin, { defaultMaxChats: 100, reassignAfterOfflineSeconds: 86400, offlineMessage: 'x'.repeat(1000) });
    assert.equal(edges.defaultMaxChats, 100);
    assert.equal(edges.reassignAfterOfflineSeconds, 86400);
    assert.equal(edges.offlineMessage.length, 1000);
    assert.equal((await patchSettings(srv.server, admin, { defaultMaxChats: 1, reassignAfterOfflineSeconds: 0 })).defaultMaxChats, 1);

    const otherTenant = makeUser('agent', { tenant: uniqueId('t') });
    assert.deepEqual(await getSettings(srv.server, otherTenant), {
      routing: 'manual', defaultMaxChats: 5, reassignAfterOfflineSeconds: 300, businessHours: null, offlineMessage: null, ratingsEnabled: true,
    });
  });

  it('refuses every bad value with invalid_payload and changes nothing', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const before = await patchSettings(srv.server, admin, {
      offlineMessage: 'unchanged', defaultMaxChats: 4, businessHours: { timezone: 'Europe/Madrid', weekly: { tue: [['08:00', '12:00']] } },
    });
    const week = (ranges) => ({ timezone: 'Europe/Madrid', weekly: { mon: ranges } });
    const bad = [
      { businessHours: { timezone: 'Mars/Olympus_Mons', weekly: { mon: [['09:00', '17:00']] } } },
      { businessHours: { timezone: '', weekly: {} } },
      { businessHours: { timezone: 42, weekly: {} } },
      { businessHours: week([['09:00', '25:00']]) },
      { businessHours: week([['25:00', '26:00']]) },
      { businessHours: week([['09:60', '10:00']]) },
      { businessHours: week([['17:00', '09:00']]) },
      { businessHours: week([['09:00', '09:00']]) },
      { businessHours: week([['09:00']]) },
      { businessHours: week([['09:00', '17:00', '18:00']]) },
      { businessHours: week([[900, 1700]]) },
      { businessHours: week('09:00-17:00') },
      { businessHours: { timezone: 'Europe/Madrid', weekly: { funday: [['09:00', '17:00']] } } },
      { businessHours: { timezone: 'Europe/Madrid' } },
      { businessHours: { weekly: { mon: [['09:00', '17:00']] } } },
      { businessHours: 'always' },
      { defaultMaxChats: 0 },
      { defaultMaxChats: 101 },
      { defaultMaxChats: -5 },
      { defaultMaxChats: 2.5 },
      { defaultMaxChats: '5' },
      { defaultMaxChats: null },
      { offlineMessage: 'x'.repeat(1001) },
      { offlineMessage: 17 },
      { routing: 'round-robin' },
      { routing: null },
      { routing: 1 },
      { reassignAfterOfflineSeconds: -1 },
      { reassignAfterOfflineSeconds: 86401 },
      { reassignAfterOfflineSeconds: '300' },
      { ratingsEnabled: 'yes' },
      { ratingsEnabled: null },
      { colour: 'red' },
      { offlineMessage: 'changed', colour: 'red' },
      { offlineMessage: 'changed', defaultMaxChats: 0 },
      { routing: 'auto', businessHours: week([['18:00', '08:00']]) },
    ];
    for (const body of bad) {
      await expectRestError(api(srv.server, admin, 'PATCH', '/api/settings', { body }), [400, 422], 'invalid_payload', JSON.stringify(body).slice(0, 200));
    }
    // (A body of JSON null is left out: main reads it as an empty body, which is an empty patch.)
    for (const rawBody of ['[]', '"auto"', '7', '{"routing":']) {
      await expectRestError(api(srv.server, admin, 'PATCH', '/api/settings', { rawBody, headers: { 'content-type': 'application/json' } }),
        [400, 422], 'invalid_payload', rawBody);
    }
    assert.deepEqual(await getSettings(srv.server, admin), before, 'no bad PATCH changed anything');
  });

  it('lets agents read the settings and only admins change them', async () => {
    const tenant = uniqueId('t');
    const admin = makeUser('admin', { tenant });
    const agent = makeUser('agent', { tenant });
    const customer = makeUser('customer', { tenant });
    const set = await patchSettings(srv.server, admin, { offlineMessage: 'hello' });
    assert.deepEqual(await getSettings(srv.server, agent), set);
    await expectRestError(api(srv.server, agent, 'PATCH', '/api/settings', { body: { offlineMessage: 'agent was here' } }), 403, 'forbidden');
    await expectRestError(api(srv.server, customer, 'PATCH', '/api/settings', { body: { offlineMessage: 'customer was here' } }), 403, 'forbidden');
    await expectRestError(api(srv.server, customer, 'GET', '/api/settings'), 403, 'forbidden');
    await expectRestError(api(srv.server, null, 'GET', '/api/settings'), 401, 'unauthorized');
    assert.deepEqual(await getSettings(srv.server, admin), set);
  });
});

// ================================================================ Auto-assignment

describe('auto-assignment', () => {
  const srv = useServer({ args: ARGS });

  it('assigns in the fairness order: fewest active chats, then the oldest last assignment, never assigned first', async () => {
    const { tenant } = await tenantWith(srv.server, { routing: 'auto' });
    const watch = await observer(srv.server, tenant);
    const team = {};
    for (const name of ['A', 'B', 'C']) {
      team[name] = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: `agent ${name}` }));
      await ok(team[name].socket, 'set-availability', { status: 'away' });
    }
    const sessions = {};
    const openAndExpect = async (label, expected) => {
      const { session } = await customerOpens(srv.server, tenant);
      sessions[label] = session;
      const got = await assigned(watch.socket, session.id);
      assert.equal(got.agent?.name, `agent ${expected}`, `${label} should go to ${expected}, went to ${got.agent?.name}`);
      return got;
    };
    const close = (agent, label) => ok(team[agent].socket, 'close-session', { sessionId: sessions[label].id });

    await ok(team.A.socket, 'set-availability', { status: 'available' });
    await openAndExpect('s1', 'A');               // A is the only routable agent
    await close('A', 's1');                       // A: 0 active, assigned once
    await ok(team.B.socket, 'set-availability', { status: 'available' });
    await openAndExpect('s2', 'B');               // A 0 (assigned), B 0 (never): never assigned first
    await ok(team.C.socket, 'set-availability', { status: 'available' });
    await openAndExpect('s3', 'C');               // A 0, C 0 (never), B 1: C
    await openAndExpect('s4', 'A');               // A 0 is the fewest
    await openAndExpect('s5', 'B');               // 1 each: B's last assignment (s2) is the oldest
    await openAndExpect('s6', 'C');               // A 1 (s4), C 1 (s3), B 2: C's is older
    await openAndExpect('s7', 'A');               // A 1 is the fewest
    await openAndExpect('s8', 'B');               // 2 each: B (s5) is older than C (s6) and A (s7)
    await close('B', 's2');
    await close('B', 's5');
    await openAndExpect('s9', 'B');               // B 1 is the fewest
    await openAndExpect('s10', 'C');              // 2 each: C (s6) < A (s7) < B (s9)

    const states = Object.fromEntries((await agents(srv.server, watch.user)).map((a) => [a.name, a.activeChats]));
    assert.deepEqual([states['agent A'], states['agent B'], states['agent C']], [2, 2, 3]);
    // Each session was assigned once: one session-updated each on the watcher.
    for (const [label, s] of Object.entries(sessions)) {
      assert.equal(received(watch.socket, 'session-updated').filter((u) => u.id === s.id && u.status === 'active').length, 1, `${label} assigned once`);
    }
  });

  it('counts a transfer to an agent as that agent\'s last assignment', async () => {
    const { tenant } = await tenantWith(srv.server, { routing: 'auto' });
    const watch = await observer(srv.server, tenant);
    const A = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'agent A' }));
    const B = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'agent B' }));
    await ok(B.socket, 'set-availability', { status: 'away' });
    const s1 = (await customerOpens(srv.server, tenant)).session;
    assert.deepEqual((await assigned(watch.socket, s1.id)).agent, A.user.ref);
    await ok(B.socket, 'set-availability', { status: 'available' });
    const s2 = (await customerOpens(srv.server, tenant)).session;
    assert.deepEqual((await assigned(watch.socket, s2.id)).agent, B.user.ref); // A 1, B 0
    // Swap them: still 1 each, but B was last given a session at the first
    // transfer and A at the second, so A's last assignment is now the newest.
    await ok(A.socket, 'transfer-session', { sessionId: s1.id, toAgentId: B.user.sub });
    await ok(B.socket, 'transfer-session', { sessionId: s2.id, toAgentId: A.user.sub });
    const s3 = (await customerOpens(srv.server, tenant)).session;
    const got = await assigned(watch.socket, s3.id);
    assert.equal(got.agent?.name, 'agent B', `1 each: B (last given s1) before A (last given s2); went to ${got.agent?.name}`);
  });

  it('announces a session opened in auto mode with new-pending-session first, then session-updated to the room, agents and the customer', async () => {
    const { tenant } = await tenantWith(srv.server, { routing: 'auto' });
    const watch = await observer(srv.server, tenant);
    const agent = await online(srv.server, 'agent', tenant);
    const customer = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, customer.user, { message: 'hi' });
    const pending = await waitFor(watch.socket, 'new-pending-session', { filter: (s) => s.id === session.id });
    assert.equal(pending.status, 'pending');
    const got = await assigned(watch.socket, session.id);
    const announcedAt = watch.socket.received.find((e) => e.event === 'new-pending-session' && e.payload.id === session.id).at;
    const assignedAt = watch.socket.received.find((e) => e.event === 'session-updated' && e.payload.id === session.id).at;
    assert.ok(announcedAt <= assignedAt, 'new-pending-session comes before session-updated');
    assert.deepEqual(got.agent, agent.user.ref);
    assert.equal(got.queue, null, 'no queue once active');
    assert.ok(got.assignedAt, 'assignedAt set');
    assert.deepEqual(await assigned(customer.socket, session.id), got, 'the customer hears it in their user room');
    assert.deepEqual(await assigned(agent.socket, session.id), got);
    const stored = await getSession(srv.server, customer.user, session.id);
    assert.equal(stored.status, 'active');
    assert.deepEqual(stored.agent, agent.user.ref);
    assert.equal(stored.queue, null);
  });

  it('never auto-assigns an agent more than maxChats; a manual take is not limited', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'auto' });
    const watch = await observer(srv.server, tenant);
    const agent = await online(srv.server, 'agent', tenant);
    await patchAgent(srv.server, admin, agent.user.sub, { maxChats: 2 });
    const s = [];
    for (let i = 0; i < 4; i += 1) s.push((await customerOpens(srv.server, tenant)).session);
    for (const session of s.slice(0, 2)) assert.deepEqual((await assigned(watch.socket, session.id)).agent, agent.user.ref);
    await expectNo(watch.socket, 'session-updated', QUIET_MS, { filter: (u) => u.id === s[2].id || u.id === s[3].id });
    assertAgentState(await agentState(srv.server, admin, agent.user.sub), { activeChats: 2, maxChats: 2 });
    const queued = await pendingList(srv.server, admin);
    assert.deepEqual(queued.map((x) => [x.id, x.queue?.position]).sort((a, b) => a[1] - b[1]), [[s[2].id, 1], [s[3].id, 2]]);

    // A person chose it: the take goes over maxChats.
    const taken = await ok(agent.socket, 'join-session', { sessionId: s[3].id });
    assert.equal(taken.session.status, 'active');
    assert.deepEqual(taken.session.agent, agent.user.ref);
    assertAgentState(await agentState(srv.server, admin, agent.user.sub), { activeChats: 3, maxChats: 2 });
    const still = await getSession(srv.server, admin, s[2].id);
    assert.equal(still.status, 'pending');
    assertQueue(still.queue, { position: 1 });
    // And the admin's /assign is not limited either.
    const viaAssign = await expectStatus(api(srv.server, admin, 'POST', `/api/chat/sessions/${s[2].id}/assign`, { body: { agentId: agent.user.sub } }), 200);
    assert.deepEqual(viaAssign.agent, agent.user.ref);
    assertAgentState(await agentState(srv.server, admin, agent.user.sub), { activeChats: 4 });
  });

  it('drains the queue oldest first when an agent comes online, becomes available, gets a higher maxChats or closes a chat', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'auto' });
    const watch = await observer(srv.server, tenant);
    const agentUser = makeUser('agent', { tenant });
    await expectStatus(api(srv.server, agentUser, 'GET', '/api/agents'), 200); // known, not online
    await patchAgent(srv.server, admin, agentUser.sub, { maxChats: 1 });
    const s = [];
    for (let i = 0; i < 5; i += 1) s.push((await customerOpens(srv.server, tenant)).session);
    assert.deepEqual(s.map((x) => x.queue?.position), [1, 2, 3, 4, 5]);
    const isPending = async (ids) => {
      const queued = (await pendingList(srv.server, admin)).map((x) => x.id).sort();
      assert.deepEqual(queued, [...ids].sort());
    };
    await expectNo(watch.socket, 'session-updated', 400); // nobody routable yet

    // Coming online.
    const agent = await online(srv.server, 'agent', tenant, agentUser);
    assert.deepEqual((await assigned(watch.socket, s[0].id)).agent, agentUser.ref);
    await expectNo(watch.socket, 'session-updated', QUIET_MS, { filter: (u) => u.status === 'active' && u.id !== s[0].id });
    await isPending([s[1].id, s[2].id, s[3].id, s[4].id]);

    // A higher maxChats.
    await patchAgent(srv.server, admin, agentUser.sub, { maxChats: 2 });
    assert.deepEqual((await assigned(watch.socket, s[1].id)).agent, agentUser.ref);

    // Closing a chat.
    await ok(agent.socket, 'close-session', { sessionId: s[0].id });
    assert.deepEqual((await assigned(watch.socket, s[2].id)).agent, agentUser.ref);

    // Free capacity while away changes nothing; becoming available does.
    await ok(agent.socket, 'set-availability', { status: 'away' });
    await ok(agent.socket, 'close-session', { sessionId: s[1].id });
    await expectNo(watch.socket, 'session-updated', QUIET_MS, { filter: (u) => u.status === 'active' });
    await isPending([s[3].id, s[4].id]);
    await ok(agent.socket, 'set-availability', { status: 'available' });
    assert.deepEqual((await assigned(watch.socket, s[3].id)).agent, agentUser.ref);
    await expectNo(watch.socket, 'session-updated', QUIET_MS, { filter: (u) => u.id === s[4].id });
    await isPending([s[4].id]);
    assertQueue((await getSession(srv.server, admin, s[4].id)).queue, { position: 1 });
    assertAgentState(await agentState(srv.server, admin, agentUser.sub), { activeChats: 2, maxChats: 2 });
  });

  it('assigns a burst of sessions opened at once once each, never over maxChats, and queues the rest 1..N', async () => {
    const { tenant } = await tenantWith(srv.server, { routing: 'auto', defaultMaxChats: 3 });
    const watch = await observer(srv.server, tenant);
    const team = [await online(srv.server, 'agent', tenant), await online(srv.server, 'agent', tenant)];
    const opened = await Promise.all(Array.from({ length: 20 }, () => openSession(srv.server, makeUser('customer', { tenant }))));
    const isActive = (u) => u.status === 'active';
    const firstSix = [];
    for (let i = 0; i < 6; i += 1) firstSix.push(await waitFor(watch.socket, 'session-updated', { ...ROUTED, filter: isActive }));
    await expectNo(watch.socket, 'session-updated', QUIET_MS, { filter: isActive });
    const ids = firstSix.map((u) => u.id);
    assert.equal(new Set(ids).size, 6, 'six different sessions, each assigned once');
    const perAgent = [...new Set(firstSix.map((u) => u.agent.id))].map((id) => firstSix.filter((u) => u.agent.id === id).length);
    assert.deepEqual(perAgent, [3, 3]);
    const queued = await pendingList(srv.server, watch.user);
    assert.equal(queued.length, 14);
    assert.deepEqual(queued.map((x) => x.queue.position).sort((a, b) => a - b), Array.from({ length: 14 }, (_, i) => i + 1));
    for (const agent of team) assertAgentState(await agentState(srv.server, watch.user, agent.user.sub), { activeChats: 3 });
    assert.equal(opened.length, 20);
  });

  it('lets a take and an auto-assignment racing for one session give it to one agent, announced once', async () => {
    const { tenant } = await tenantWith(srv.server, { routing: 'auto' });
    const auto = await online(srv.server, 'agent', tenant);
    const taker = await online(srv.server, 'agent', tenant);
    await ok(taker.socket, 'set-availability', { status: 'away' }); // only `auto` is routed to
    for (let round = 0; round < 5; round += 1) {
      const customer = await online(srv.server, 'customer', tenant);
      const session = await openSession(srv.server, customer.user);
      const take = await emitAck(taker.socket, 'join-session', { sessionId: session.id });
      assert.equal(take.ok, true, JSON.stringify(take));
      const first = await assigned(customer.socket, session.id);
      await expectNo(customer.socket, 'session-updated', 500, { filter: (x) => x.id === session.id });
      const stored = await getSession(srv.server, customer.user, session.id);
      assert.deepEqual(stored.agent, first.agent, 'the one announced is the one stored');
      assert.deepEqual(take.data.session.agent, first.agent, 'the take\'s ack names the holder (a take or a watch)');
      await ok(customer.socket, 'close-session', { sessionId: session.id });
    }
  });

  it('assigns the waiting sessions when the tenant switches to auto; never assigns a maxChats 0 agent', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'manual' });
    const watch = await observer(srv.server, tenant);
    const zero = await online(srv.server, 'agent', tenant);
    await patchAgent(srv.server, admin, zero.user.sub, { maxChats: 0 });
    const s1 = (await customerOpens(srv.server, tenant)).session;
    const s2 = (await customerOpens(srv.server, tenant)).session;
    await expectNo(watch.socket, 'session-updated', QUIET_MS); // manual: nobody is assigned anything
    await patchSettings(srv.server, admin, { routing: 'auto' });
    await expectNo(watch.socket, 'session-updated', QUIET_MS); // the only routable agent has maxChats 0
    const agentUser = makeUser('agent', { tenant });
    await expectStatus(api(srv.server, agentUser, 'GET', '/api/agents'), 200); // known, not online yet
    await patchAgent(srv.server, admin, agentUser.sub, { maxChats: 1 });
    const agent = await online(srv.server, 'agent', tenant, agentUser);
    assert.deepEqual((await assigned(watch.socket, s1.id)).agent, agent.user.ref);
    await expectNo(watch.socket, 'session-updated', QUIET_MS, { filter: (u) => u.id === s2.id });
    assertQueue((await getSession(srv.server, admin, s2.id)).queue, { position: 1 });
  });
});

// ================================================================ Queue

describe('queue position and service status', () => {
  const srv = useServer({ args: ARGS });

  it('numbers pending sessions 1..N in Session.queue, new-pending-session and the list; queue-update to every tab on changes, none once served', async () => {
    const tenant = uniqueId('t');
    const agent = await online(srv.server, 'agent', tenant);
    const c1 = await online(srv.server, 'customer', tenant);
    const c2 = await online(srv.server, 'customer', tenant);
    const c2tab = await online(srv.server, 'customer', tenant, c2.user);
    const c3 = await online(srv.server, 'customer', tenant);

    const s = [];
    for (const c of [c1, c2, c3]) {
      const session = await openSession(srv.server, c.user);
      const position = s.length + 1;
      assert.equal(session.status, 'pending');
      assertQueue(session.queue, { position, estimatedWaitSeconds: null, availableAgents: 1 });
      const announced = await waitFor(agent.socket, 'new-pending-session', { filter: (x) => x.id === session.id });
      assert.deepEqual(announced.queue, session.queue);
      const update = await waitFor(c.socket, 'queue-update', { ...COALESCED, filter: (u) => u.sessionId === session.id });
      assert.deepEqual(Object.keys(update).sort(), ['queue', 'sessionId']);
      assert.deepEqual(update.queue, session.queue);
      s.push(session);
    }
    assert.deepEqual((await waitFor(c2tab.socket, 'queue-update', { ...COALESCED, filter: (u) => u.sessionId === s[1].id })).queue, s[1].queue);
    const listed = await pendingList(srv.server, agent.user);
    assert.deepEqual(listed.map((x) => [x.id, x.queue?.position]).sort((a, b) => a[1] - b[1]), s.map((x, i) => [x.id, i + 1]));
    // The customer sees their own session's place through REST too.
    assertQueue((await getSession(srv.server, c3.user, s[2].id)).queue, { position: 3 });
    // A page holding part of the queue counts the whole queue; so does a
    // customer's own list, which holds one pending session of three.
    const pages = [];
    let after = '';
    for (;;) {
      const page = await expectStatus(api(srv.server, agent.user, 'GET', `/api/chat/sessions?status=pending&limit=2${after}`), 200);
      pages.push(page.items.map((x) => [x.id, x.queue?.position]));
      if (!page.nextCursor) break;
      after = `&cursor=${encodeURIComponent(page.nextCursor)}`;
    }
    assert.deepEqual(pages.flat().sort((a, b) => a[1] - b[1]), s.map((x, i) => [x.id, i + 1]));
    assert.ok(pages.length >= 2, `paged in ${pages.length} pages`);
    const own = await expectStatus(api(srv.server, c2.user, 'GET', '/api/chat/sessions'), 200);
    assert.deepEqual(own.items.map((x) => [x.id, x.queue?.position]), [[s[1].id, 2]]);

    // s1 served: everyone behind moves up, on every tab.
    await ok(agent.socket, 'join-session', { sessionId: s[0].id });
    for (const tab of [c2, c2tab]) {
      assertQueue((await waitFor(tab.socket, 'queue-update', { ...COALESCED, filter: (u) => u.sessionId === s[1].id && u.queue.position === 1 })).queue,
        { position: 1, availableAgents: 1 });
    }
    await waitFor(c3.socket, 'queue-update', { ...COALESCED, filter: (u) => u.sessionId === s[2].id && u.queue.position === 2 });
    const served = await assigned(c1.socket, s[0].id);
    assert.equal(served.queue, null);
    assert.equal((await getSession(srv.server, c1.user, s[0].id)).queue, null);
    await expectNo(c1.socket, 'queue-update', QUIET_MS, { filter: (u) => u.sessionId === s[0].id });
    // None for a session that is not pending, even as the agents change.
    await ok(agent.socket, 'set-availability', { status: 'away' });
    await waitFor(c2.socket, 'queue-update', { ...COALESCED, filter: (u) => u.sessionId === s[1].id && u.queue.availableAgents === 0 });
    await expectNo(c1.socket, 'queue-update', QUIET_MS, { filter: (u) => u.sessionId === s[0].id && u.queue.availableAgents === 0 });
    // No queue-update to other customers, nor to agents.
    assert.equal(received(c3.socket, 'queue-update').filter((u) => u.sessionId !== s[2].id).length, 0);
    assert.equal(received(agent.socket, 'queue-update').length, 0);
  });

  it('sends the queue-update once a second at most when the place changes in bursts', async () => {
    const tenant = uniqueId('t');
    const agent = await online(srv.server, 'agent', tenant);
    const ahead = [];
    for (let i = 0; i < 6; i += 1) ahead.push((await customerOpens(srv.server, tenant)).session);
    const last = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, last.user);
    assertQueue(session.queue, { position: 7 });
    await waitFor(last.socket, 'queue-update', { ...COALESCED, filter: (u) => u.queue.position === 7 });
    for (const x of ahead) await ok(agent.socket, 'join-session', { sessionId: x.id });
    const lastTakeAt = Date.now();
    const final = await waitFor(last.socket, 'queue-update', { ...COALESCED, filter: (u) => u.queue.position === 1 });
    assert.equal(final.sessionId, session.id);
    const lag = arrival(last.socket, final) - lastTakeAt;
    assert.ok(lag <= 1500, `the final position came ${lag} ms after the last change (within a second, §7)`);
    const arrivals = last.socket.received.filter((e) => e.event === 'queue-update').map((e) => e.at);
    for (let i = 1; i < arrivals.length; i += 1) {
      assert.ok(arrivals[i] - arrivals[i - 1] >= 900, `two queue-updates ${arrivals[i] - arrivals[i - 1]} ms apart`);
    }
    // Each one changed something.
    const positions = received(last.socket, 'queue-update').map((u) => JSON.stringify(u.queue));
    assert.equal(new Set(positions).size, positions.length, `repeated queue-update: ${positions}`);
  });

  it('estimates the wait only after 3 assignments in the last hour and while someone is routable', async () => {
    const tenant = uniqueId('t');
    const agent = await online(srv.server, 'agent', tenant);
    const s = [];
    for (let i = 0; i < 3; i += 1) s.push((await customerOpens(srv.server, tenant)).session);
    await ok(agent.socket, 'join-session', { sessionId: s[0].id });
    await ok(agent.socket, 'join-session', { sessionId: s[1].id });
    const waiting = await online(srv.server, 'customer', tenant);
    const w = await openSession(srv.server, waiting.user);
    assertQueue(w.queue, { position: 2, estimatedWaitSeconds: null, availableAgents: 1 }); // 2 assignments so far
    await ok(agent.socket, 'join-session', { sessionId: s[2].id }); // the third
    const update = await waitFor(waiting.socket, 'queue-update', { ...COALESCED, filter: (u) => u.queue.position === 1 && u.queue.estimatedWaitSeconds !== null });
    assertQueue(update.queue, { position: 1, availableAgents: 1 });
    assert.ok(Number.isInteger(update.queue.estimatedWaitSeconds), `estimatedWaitSeconds ${update.queue.estimatedWaitSeconds}`);
    const next = await openSession(srv.server, makeUser('customer', { tenant }));
    assertQueue(next.queue, { position: 2, availableAgents: 1 });
    assert.ok(Number.isInteger(next.queue.estimatedWaitSeconds), `estimatedWaitSeconds of position 2: ${next.queue.estimatedWaitSeconds}`);
    // The three takes came within a few seconds: the mean interval is small.
    const span = (Date.now() - Date.parse(s[0].createdAt)) / 1000;
    assert.ok(next.queue.estimatedWaitSeconds <= 2 * span + 1, `estimate ${next.queue.estimatedWaitSeconds} s for takes within ${span} s`);

    // Nobody routable: no estimate.
    await ok(agent.socket, 'set-availability', { status: 'away' });
    const none = await waitFor(waiting.socket, 'queue-update', { ...COALESCED, filter: (u) => u.queue.availableAgents === 0 });
    assertQueue(none.queue, { position: 1, estimatedWaitSeconds: null, availableAgents: 0 });
    assertQueue((await getSession(srv.server, agent.user, next.id)).queue, { position: 2, estimatedWaitSeconds: null, availableAgents: 0 });
  });

  it('does not count transfers between agents in the wait estimate', async () => {
    const tenant = uniqueId('t');
    const A = await online(srv.server, 'agent', tenant);
    const B = await online(srv.server, 'agent', tenant);
    const s = [];
    for (let i = 0; i < 2; i += 1) s.push((await customerOpens(srv.server, tenant)).session);
    for (const x of s) await ok(A.socket, 'join-session', { sessionId: x.id }); // 2 assignments
    await ok(A.socket, 'transfer-session', { sessionId: s[0].id, toAgentId: B.user.sub });
    await ok(B.socket, 'transfer-session', { sessionId: s[0].id, toAgentId: A.user.sub });
    await ok(A.socket, 'transfer-session', { sessionId: s[1].id, toAgentId: B.user.sub });
    const waiting = await openSession(srv.server, makeUser('customer', { tenant }));
    assertQueue(waiting.queue, { position: 1, estimatedWaitSeconds: null, availableAgents: 2 });
    // A third real assignment makes it 3.
    const third = (await customerOpens(srv.server, tenant)).session;
    await ok(B.socket, 'join-session', { sessionId: third.id });
    const after = await getSession(srv.server, A.user, waiting.id);
    assertQueue(after.queue, { position: 1, availableAgents: 2 });
    assert.ok(Number.isInteger(after.queue.estimatedWaitSeconds), `estimate after 3 assignments: ${after.queue.estimatedWaitSeconds}`);
  });

  it('carries the queue in the join-session ack of a pending session, and availableAgents in the stats', async () => {
    const tenant = uniqueId('t');
    const agent = await online(srv.server, 'agent', tenant);
    const stats = await waitFor(agent.socket, 'stats-update');
    assert.equal(stats.availableAgents, 1);
    await customerOpens(srv.server, tenant);
    const customer = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, customer.user);
    const joined = await ok(customer.socket, 'join-session', { sessionId: session.id });
    assertQueue(joined.session.queue, { position: 2, estimatedWaitSeconds: null, availableAgents: 1 });
    assert.deepEqual(joined.session.queue, session.queue);
    await ok(agent.socket, 'set-availability', { status: 'away' });
    await waitFor(agent.socket, 'stats-update', { timeout: 2000, filter: (x) => x.availableAgents === 0 });
    const rest = await expectStatus(api(srv.server, agent.user, 'GET', '/api/chat/stats'), 200);
    assert.equal(rest.availableAgents, 0);
    assert.equal(rest.onlineAgents, 1, 'away agents are still online');
  });

  it('serves GET /api/chat/service and connected.service, and sends service-status to the tenant when availableAgents changes', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { offlineMessage: 'We answer within a day' });
    const customer = await online(srv.server, 'customer', tenant);
    const expected0 = { open: true, availableAgents: 0, offlineMessage: 'We answer within a day' };
    assertService(customer.connected.service, expected0);
    assert.deepEqual(await service(srv.server, customer.user), expected0);
    assert.deepEqual(await service(srv.server, admin), expected0);
    await expectRestError(api(srv.server, null, 'GET', '/api/chat/service'), 401, 'unauthorized');
    const outsider = await online(srv.server, 'customer', uniqueId('t'));

    const agent = await online(srv.server, 'agent', tenant);
    const one = { open: true, availableAgents: 1, offlineMessage: 'We answer within a day' };
    assert.deepEqual(await waitFor(customer.socket, 'service-status', { ...COALESCED, filter: (x) => x.availableAgents === 1 }), one);
    assert.deepEqual(await service(srv.server, customer.user), one);
    // A status sent before this one (the PATCH of offlineMessage changed it too)
    // would otherwise pass for the next 0; nothing older can follow it.
    drain(customer.socket, 'service-status');
    await waitFor(agent.socket, 'service-status', { ...COALESCED, filter: (x) => x.availableAgents === 1 }); // tenant:{tenant} has staff too
    drain(agent.socket, 'service-status');
    await ok(agent.socket, 'set-availability', { status: 'away' });
    assert.deepEqual(await waitFor(customer.socket, 'service-status', { ...COALESCED, filter: (x) => x.availableAgents === 0 }), expected0);
    await waitFor(agent.socket, 'service-status', { ...COALESCED, filter: (x) => x.availableAgents === 0 });
    await ok(agent.socket, 'set-availability', { status: 'available' });
    await waitFor(customer.socket, 'service-status', { ...COALESCED, filter: (x) => x.availableAgents === 1 });
    disconnect(agent.socket);
    await waitFor(customer.socket, 'service-status', { ...COALESCED, filter: (x) => x.availableAgents === 0 });
    assert.deepEqual(await service(srv.server, customer.user), expected0);
    await expectNo(outsider.socket, 'service-status', 0);
    // Each one differs from the one before it.
    const seen = received(customer.socket, 'service-status').map((x) => JSON.stringify(x));
    for (let i = 1; i < seen.length; i += 1) assert.notEqual(seen[i], seen[i - 1], `service-status repeated: ${seen}`);
  });
});

// ================================================================ Transfer

describe('transfer', () => {
  const srv = useServer({ args: ARGS });

  /** manual tenant: the customer (a tab in the room, one not) and agent A who took the session; B and a bystander online. */
  async function held(settings = {}) {
    const { tenant, admin } = await tenantWith(srv.server, settings);
    const customer = await online(srv.server, 'customer', tenant);
    const otherTab = await online(srv.server, 'customer', tenant, customer.user);
    const session = await openSession(srv.server, customer.user, { message: 'help' });
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    const A = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'Agent A' }));
    const B = await online(srv.server, 'agent', tenant, makeUser('agent', { tenant, name: 'Agent B' }));
    const bystander = await observer(srv.server, tenant);
    const taken = (await ok(A.socket, 'join-session', { sessionId: session.id })).session;
    for (const s of [customer.socket, otherTab.socket, A.socket, B.socket, bystander.socket]) await assigned(s, session.id);
    // What the customer heard while it was pending is not what these tests look at.
    drain(customer.socket, 'queue-update');
    drain(otherTab.socket, 'queue-update');
    return { tenant, admin, customer, otherTab, session: taken, A, B, bystander };
  }

  it('transfers to another agent: session-updated once to the room, the agents and every customer tab; assignedAt kept', async () => {
    const { customer, otherTab, session, A, B, bystander } = await held();
    const moved = await ok(A.socket, 'transfer-session', { sessionId: session.id, toAgentId: B.user.sub, reason: 'billing' });
    assert.equal(moved.id, session.id);
    assert.equal(moved.status, 'active');
    assert.deepEqual(moved.agent, B.user.ref);
    assert.equal(moved.assignedAt, session.assignedAt);
    assert.equal(moved.createdAt, session.createdAt);
    assert.equal(moved.queue, null);
    for (const s of [customer.socket, otherTab.socket, A.socket, B.socket, bystander.socket]) {
      assert.deepEqual(await updated(s, session.id, (x) => x.agent?.id === B.user.sub), moved);
    }
    for (const s of [customer.socket, otherTab.socket, A.socket]) {
      await expectNo(s, 'session-updated', 300, { filter: (x) => x.id === session.id }); // once per socket
    }
    assert.deepEqual(await getSession(srv.server, customer.user, session.id), moved);
    assertAgentState(await agentState(srv.server, B.user, B.user.sub), { activeChats: 1 });
    assertAgentState(await agentState(srv.server, B.user, A.user.sub), { activeChats: 0 });

    // A is now only a watcher: may not send, nor transfer again.
    await expectError(A.socket, 'forbidden', 'transfer-session', { sessionId: session.id, toAgentId: A.user.sub });
    await expectError(A.socket, 'forbidden', 'send-message', { sessionId: session.id, content: 'still mine?' });
    // B holds it and talks to the customer.
    await ok(B.socket, 'join-session', { sessionId: session.id });
    const hello = await ok(B.socket, 'send-message', { sessionId: session.id, content: 'B here' });
    assert.equal((await waitFor(customer.socket, 'new-message', { filter: (m) => m.id === hello.id })).content, 'B here');
  });

  it('transfers through REST, to an away agent and an admin, whatever their capacity', async () => {
    const { tenant, admin, session, A, B, customer } = await held();
    await ok(B.socket, 'set-availability', { status: 'away' });
    await patchAgent(srv.server, admin, B.user.sub, { maxChats: 0 });
    const moved = await expectStatus(api(srv.server, A.user, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body: { toAgentId: B.user.sub } }), 200);
    assert.deepEqual(moved.agent, B.user.ref);
    assert.equal(moved.assignedAt, session.assignedAt);
    assert.deepEqual(await updated(customer.socket, session.id, (x) => x.agent?.id === B.user.sub), moved);
    // An admin moves it on, even without holding it.
    const boss = await online(srv.server, 'admin', tenant, makeUser('admin', { tenant, name: 'Boss' }));
    const toBoss = await ok(boss.socket, 'transfer-session', { sessionId: session.id, toAgentId: boss.user.sub });
    assert.deepEqual(toBoss.agent, boss.user.ref);
    const back = await expectStatus(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body: { toAgentId: A.user.sub } }), 200);
    assert.deepEqual(back.agent, A.user.ref);
    assert.equal(back.assignedAt, session.assignedAt);
  });

  it('refuses bad transfers and changes nothing', async () => {
    const { tenant, admin, session, A, B, customer } = await held();
    const stranger = await online(srv.server, 'agent', uniqueId('t'));
    await expectError(A.socket, 'not_found', 'transfer-session', { sessionId: session.id, toAgentId: uniqueId('nobody') });
    await expectError(A.socket, 'not_found', 'transfer-session', { sessionId: session.id, toAgentId: customer.user.sub }); // not staff
    await expectError(A.socket, 'not_found', 'transfer-session', { sessionId: session.id, toAgentId: stranger.user.sub }); // another tenant
    await expectError(A.socket, 'invalid_payload', 'transfer-session', { sessionId: session.id, toAgentId: A.user.sub }); // to themself
    await expectError(B.socket, 'forbidden', 'transfer-session', { sessionId: session.id, toAgentId: B.user.sub }); // not the holder
    await expectError(B.socket, 'forbidden', 'transfer-session', { sessionId: session.id });
    await expectError(stranger.socket, 'not_found', 'transfer-session', { sessionId: session.id, toAgentId: stranger.user.sub });
    await expectError(A.socket, 'not_found', 'transfer-session', { sessionId: uniqueId('no-session'), toAgentId: B.user.sub });
    for (const bad of [{}, { sessionId: 5 }, { sessionId: session.id, toAgentId: 7 }, 'x']) {
      await expectError(A.socket, ['invalid_payload', 'not_found'], 'transfer-session', bad);
    }
    await expectRestError(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body: { toAgentId: A.user.sub } }), [400, 422], 'invalid_payload'); // the current agent
    await expectRestError(api(srv.server, B.user, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body: {} }), 403, 'forbidden');
    await expectRestError(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body: { toAgentId: 'ghost' } }), 404, 'not_found');
    const unchanged = await getSession(srv.server, A.user, session.id);
    assert.deepEqual({ ...unchanged, unreadCount: undefined, lastMessageAt: undefined }, { ...session, unreadCount: undefined, lastMessageAt: undefined });
    await expectNo(customer.socket, 'session-updated', 300, { filter: (x) => x.id === session.id });

    // Pending: invalid_payload (use /assign), for the admin too.
    const { session: waiting } = await customerOpens(srv.server, tenant);
    const boss = await online(srv.server, 'admin', tenant);
    await expectError(boss.socket, 'invalid_payload', 'transfer-session', { sessionId: waiting.id, toAgentId: B.user.sub });
    await expectError(boss.socket, 'invalid_payload', 'transfer-session', { sessionId: waiting.id });
    await expectRestError(api(srv.server, admin, 'POST', `/api/chat/sessions/${waiting.id}/transfer`, { body: { toAgentId: B.user.sub } }), [400, 422], 'invalid_payload');
    const stillWaiting = await getSession(srv.server, admin, waiting.id);
    assert.equal(stillWaiting.status, 'pending');
    assert.equal(stillWaiting.agent, null);

    // Closed: session_closed.
    await ok(A.socket, 'close-session', { sessionId: session.id });
    await expectError(A.socket, 'session_closed', 'transfer-session', { sessionId: session.id, toAgentId: B.user.sub });
    await expectError(boss.socket, 'session_closed', 'transfer-session', { sessionId: session.id });
    await expectRestError(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/transfer`, { body: { toAgentId: B.user.sub } }), 409, 'session_closed');
    const closed = await getSession(srv.server, admin, session.id);
    assert.equal(closed.status, 'closed');
    assert.deepEqual(closed.agent, A.user.ref);
  });

  it('sends a session back to the queue: pending, no agent, same createdAt and place, new-pending-session again', async () => {
    const { tenant, customer, otherTab, session, A, B, bystander } = await held();
    const later = await customerOpens(srv.server, tenant); // opened after `session`: behind it
    assertQueue(later.session.queue, { position: 1 });
    const laterSocket = await online(srv.server, 'customer', tenant, later.customer);
    drain(bystander.socket, 'new-pending-session');

    const back = await ok(A.socket, 'transfer-session', { sessionId: session.id, reason: 'wrong team' });
    assert.equal(back.status, 'pending');
    assert.equal(back.agent, null);
    assert.equal(back.createdAt, session.createdAt);
    assert.equal(back.assignedAt, session.assignedAt, 'assignedAt is kept');
    assertQueue(back.queue, { position: 1, availableAgents: 2 }); // A and B; the bystander is away
    for (const s of [customer.socket, otherTab.socket, bystander.socket, B.socket]) {
      assert.deepEqual(await updated(s, session.id, (x) => x.status === 'pending'), back);
    }
    assert.deepEqual(await waitFor(bystander.socket, 'new-pending-session', { filter: (x) => x.id === session.id }), back);
    for (const s of [customer.socket, otherTab.socket]) {
      assertQueue((await waitFor(s, 'queue-update', { ...COALESCED, filter: (u) => u.sessionId === session.id })).queue, { position: 1 });
    }
    await waitFor(laterSocket.socket, 'queue-update', { ...COALESCED, filter: (u) => u.sessionId === later.session.id && u.queue.position === 2 });
    const listed = await pendingList(srv.server, B.user);
    assert.deepEqual(listed.map((x) => [x.id, x.queue.position]).sort((a, b) => a[1] - b[1]), [[session.id, 1], [later.session.id, 2]]);
    assertAgentState(await agentState(srv.server, B.user, A.user.sub), { activeChats: 0 });

    // Manual mode: it waits for a take, which anyone (A included) may do.
    await expectNo(bystander.socket, 'session-updated', QUIET_MS, { filter: (x) => x.id === session.id && x.status === 'active' });
    const retaken = await ok(B.socket, 'join-session', { sessionId: session.id });
    assert.deepEqual(retaken.session.agent, B.user.ref);
    assert.equal(retaken.session.assignedAt, session.assignedAt, 'assignedAt: when an agent first took it');
  });

  it('in auto mode, does not give a session back to the agent who handed it off while another has room', async () => {
    const { tenant } = await tenantWith(srv.server, { routing: 'auto' });
    const watch = await observer(srv.server, tenant);
    const B = await online(srv.server, 'agent', tenant);
    const s2 = (await customerOpens(srv.server, tenant)).session;
    const s3 = (await customerOpens(srv.server, tenant)).session;
    for (const s of [s2, s3]) assert.deepEqual((await assigned(watch.socket, s.id)).agent, B.user.ref);
    const A = await online(srv.server, 'agent', tenant);
    const s1 = (await customerOpens(srv.server, tenant)).session;
    assert.deepEqual((await assigned(watch.socket, s1.id)).agent, A.user.ref); // A 0 < B 2

    const back = await ok(A.socket, 'transfer-session', { sessionId: s1.id });
    assert.equal(back.status, 'pending');
    await updated(watch.socket, s1.id, (x) => x.status === 'pending');
    // By fairness A (0 active) would come first; the hold gives it to B (2 active, room for 5).
    const again = await assigned(watch.socket, s1.id);
    assert.deepEqual(again.agent, B.user.ref);
    await expectNo(watch.socket, 'session-updated', QUIET_MS, { filter: (x) => x.id === s1.id });
    assertAgentState(await agentState(srv.server, watch.user, A.user.sub), { activeChats: 0 });
    assertAgentState(await agentState(srv.server, watch.user, B.user.sub), { activeChats: 3 });
  });

  it('in auto mode, gives it back to the same agent after the hold when nobody else has room', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'auto' });
    const watch = await observer(srv.server, tenant);
    const A = await online(srv.server, 'agent', tenant);
    const B = await online(srv.server, 'agent', tenant);
    await patchAgent(srv.server, admin, B.user.sub, { maxChats: 0 }); // routable, but no room
    const s = (await customerOpens(srv.server, tenant)).session;
    const first = await assigned(watch.socket, s.id);
    assert.deepEqual(first.agent, A.user.ref);

    const sentBackAt = Date.now();
    const back = await ok(A.socket, 'transfer-session', { sessionId: s.id });
    assert.equal(back.status, 'pending');
    const again = await assigned(watch.socket, s.id, { timeout: HOLD_SECONDS * 1000 + 5000 });
    const after = arrival(watch.socket, again) - sentBackAt;
    assert.deepEqual(again.agent, A.user.ref);
    assert.ok(after >= HOLD_SECONDS * 1000 - 300, `given back after ${after} ms, before the ${HOLD_SECONDS} s hold`);
    assert.equal(back.assignedAt, first.assignedAt, 'back to the queue keeps assignedAt');
    assert.equal(again.assignedAt, first.assignedAt, 'assignedAt: when an agent first took it');
  });
});

// ================================================================ Offline reassignment

describe('an agent who goes offline', () => {
  const srv = useServer({ args: ARGS });

  it('in auto mode, has their chats moved to a routable agent with room after reassignAfterOfflineSeconds', async () => {
    const { tenant } = await tenantWith(srv.server, { routing: 'auto', reassignAfterOfflineSeconds: 1 });
    const A = await online(srv.server, 'agent', tenant);
    const c1 = await online(srv.server, 'customer', tenant);
    const s1 = await openSession(srv.server, c1.user);
    const s2 = (await customerOpens(srv.server, tenant)).session;
    const firstAssigned = {};
    for (const s of [s1, s2]) {
      const got = await assigned(A.socket, s.id);
      assert.deepEqual(got.agent, A.user.ref);
      firstAssigned[s.id] = got.assignedAt;
    }
    await assigned(c1.socket, s1.id);
    const B = await online(srv.server, 'agent', tenant);

    const leftAt = Date.now();
    disconnect(A.socket);
    await waitFor(B.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === A.user.sub && a.online === false });
    const moved = [await updated(B.socket, s1.id, (x) => x.agent?.id === B.user.sub), await updated(B.socket, s2.id, (x) => x.agent?.id === B.user.sub)];
    for (const x of moved) {
      const tookMs = arrival(B.socket, x) - leftAt;
      assert.ok(tookMs >= 800, `moved ${tookMs} ms after the agent left, before reassignAfterOfflineSeconds (1 s)`);
      assert.equal(x.status, 'active');
      assert.equal(x.assignedAt, firstAssigned[x.id], 'a transfer keeps assignedAt');
      assert.equal(x.queue, null);
    }
    assert.deepEqual((await updated(c1.socket, s1.id, (x) => x.agent?.id === B.user.sub)).agent, B.user.ref);
    assertAgentState(await agentState(srv.server, B.user, B.user.sub), { activeChats: 2 });
    assertAgentState(await agentState(srv.server, B.user, A.user.sub), { activeChats: 0, online: false });
    await expectNo(B.socket, 'session-updated', QUIET_MS, { filter: (x) => x.id === s1.id || x.id === s2.id });
  });

  it('in auto mode, leaves them where they are while nobody has room', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'auto', reassignAfterOfflineSeconds: 1 });
    const A = await online(srv.server, 'agent', tenant);
    const s = (await customerOpens(srv.server, tenant)).session;
    assert.deepEqual((await assigned(A.socket, s.id)).agent, A.user.ref);
    const B = await online(srv.server, 'agent', tenant);
    await patchAgent(srv.server, admin, B.user.sub, { maxChats: 0 });
    disconnect(A.socket);
    await waitFor(B.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === A.user.sub && a.online === false });
    await expectNo(B.socket, 'session-updated', 2000, { filter: (x) => x.id === s.id });
    assert.deepEqual((await getSession(srv.server, admin, s.id)).agent, A.user.ref);
    // Room appears: it moves.
    await patchAgent(srv.server, admin, B.user.sub, { maxChats: 1 });
    assert.deepEqual((await updated(B.socket, s.id, (x) => x.agent?.id === B.user.sub)).agent, B.user.ref);
  });

  it('in auto mode, moves their chats before any pending session, even an older one', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'auto', reassignAfterOfflineSeconds: 1 });
    const watch = await observer(srv.server, tenant);
    const A = await online(srv.server, 'agent', tenant);
    await ok(A.socket, 'set-availability', { status: 'away' });
    const older = (await customerOpens(srv.server, tenant)).session;
    const mine = (await customerOpens(srv.server, tenant)).session;
    await ok(A.socket, 'join-session', { sessionId: mine.id }); // a take, while `older` waits
    assert.deepEqual((await assigned(watch.socket, mine.id)).agent, A.user.ref);
    const bUser = makeUser('agent', { tenant });
    await expectStatus(api(srv.server, bUser, 'GET', '/api/agents'), 200); // known, so maxChats 0 comes before it is online
    await patchAgent(srv.server, admin, bUser.sub, { maxChats: 0 });
    const B = await online(srv.server, 'agent', tenant, bUser);
    disconnect(A.socket);
    await waitFor(watch.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === A.user.sub && a.online === false });
    // Nobody has room: nothing moves, well past reassignAfterOfflineSeconds.
    await expectNo(watch.socket, 'session-updated', 2000, { filter: (x) => x.id === mine.id || x.id === older.id });
    await patchAgent(srv.server, admin, B.user.sub, { maxChats: 1 });
    const moved = await updated(watch.socket, mine.id, (x) => x.agent?.id === B.user.sub);
    assert.equal(moved.status, 'active');
    await expectNo(watch.socket, 'session-updated', QUIET_MS, { filter: (x) => x.id === older.id });
    assert.equal((await getSession(srv.server, admin, older.id)).status, 'pending');
  });

  it('with reassignAfterOfflineSeconds null, never moves their chats', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'auto', reassignAfterOfflineSeconds: null });
    const A = await online(srv.server, 'agent', tenant);
    const s = (await customerOpens(srv.server, tenant)).session;
    assert.deepEqual((await assigned(A.socket, s.id)).agent, A.user.ref);
    const B = await online(srv.server, 'agent', tenant);
    disconnect(A.socket);
    await waitFor(B.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === A.user.sub && a.online === false });
    await expectNo(B.socket, 'session-updated', 2500, { filter: (x) => x.id === s.id });
    assert.deepEqual((await getSession(srv.server, admin, s.id)).agent, A.user.ref);
  });

  it('in manual mode, keeps their chats', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'manual', reassignAfterOfflineSeconds: 1 });
    const A = await online(srv.server, 'agent', tenant);
    const B = await online(srv.server, 'agent', tenant);
    const s = (await customerOpens(srv.server, tenant)).session;
    await ok(A.socket, 'join-session', { sessionId: s.id });
    await assigned(B.socket, s.id);
    disconnect(A.socket);
    await waitFor(B.socket, 'agent-updated', { ...COALESCED, filter: (a) => a.id === A.user.sub && a.online === false });
    await expectNo(B.socket, 'session-updated', 2500, { filter: (x) => x.id === s.id });
    const after = await getSession(srv.server, admin, s.id);
    assert.equal(after.status, 'active');
    assert.deepEqual(after.agent, A.user.ref);
  });

  it('changes nothing when the agent reconnects within reassignAfterOfflineSeconds', async () => {
    const { tenant, admin } = await tenantWith(srv.server, { routing: 'auto', reassignAfterOfflineSeconds: 2 });
    const A = await online(srv.server, 'agent', tenant);
    const s = (await customerOpens(srv.server, tenant)).session;
    assert.deepEqual((await assigned(A.socket, s.id)).agent, A.user.ref);
    const B = await online(srv.server, 'agent', tenant);
    const leftAt = Date.now();
    disconnect(A.socket);
    const back = await online(srv.server, 'agent', tenant, A.user);
    const awayMs = Date.now() - leftAt;
    assert.ok(awayMs < 1500, `the reconnect took ${awayMs} ms: too slow to test this`);
    assertAgentState(back.connected.agent, { activeChats: 1, online: true });
    await expectNo(B.socket, 'session-updated', 3500, { filter: (x) => x.id === s.id });
    assert.deepEqual((await getSession(srv.server, admin, s.id)).agent, A.user.ref);
    assertAgentState(await agentState(srv.server, admin, A.user.sub), { activeChats: 1, online: true });
  });
});

// ================================================================ Business hours

describe('business hours', () => {
  const srv = useServer({ args: ARGS });
  // Zones with daylight saving (north and south) and without.
  const ZONES = ['Europe/Madrid', 'America/New_York', 'Australia/Sydney', 'America/Santiago', 'Asia/Tokyo', 'Asia/Kolkata',
    'Pacific/Auckland', 'Europe/London', 'America/Los_Angeles', 'Asia/Singapore', 'America/Sao_Paulo', 'Africa/Nairobi'];

  const openNow = async (server, user) => (await service(server, user)).open;
  /** GET /api/chat/service until `open` is `expected` (the sweep may take a moment); fails if it never is. */
  const becomes = (server, user, expected, what) => until(async () => (await openNow(server, user)) === expected,
    { timeout: 3000, what: `service open=${expected}: ${what}` });
  /**
   * After PATCHing `hours`, `open` becomes `expected`. Every call expects the
   * opposite of the call before it in the same tenant, so a server still
   * answering from the previous settings can never pass.
   */
  const lastExpected = new Map();
  async function expectOpen(tenant, admin, hours, expected, what) {
    assert.notEqual(lastExpected.get(tenant), expected, 'test bug: two expectOpen in a row expect the same');
    lastExpected.set(tenant, expected);
    await patchSettings(srv.server, admin, { businessHours: hours });
    await becomes(srv.server, admin, expected, `${what} ${JSON.stringify(hours)}`);
    const customer = await online(srv.server, 'customer', tenant);
    assert.equal(customer.connected.service.open, expected, `connected.service.open: ${what} ${JSON.stringify(hours)}`);
  }

  it('is open within a range of today in the tenant\'s zone, closed at its end (exclusive) and on a day without ranges', async () => {
    const zone = zoneAwayFromMidnight(ZONES);
    assert.ok(zone, 'some zone has a local time between 02:00 and 21:00');
    const { tenant, admin } = await tenantWith(srv.server, {});
    const now = localNow(zone).minutes;
    await expectOpen(tenant, admin, todayOnly(zone, [[now - 60, now + 60]]), true, 'around now');
    await expectOpen(tenant, admin, todayOnly(zone, [[now - 60, now]]), false, 'ending this minute');
    await expectOpen(tenant, admin, todayOnly(zone, [[now, now + 60]]), true, 'starting this minute');
    await expectOpen(tenant, admin, todayOnly(zone, [[now + 5, now + 60]]), false, 'starting later');
    await expectOpen(tenant, admin, todayOnly(zone, [[now - 90, now - 60], [now - 30, now + 30]]), true, 'the second range');
    const allWeekButToday = { timezone: zone, weekly: Object.fromEntries(DAY_KEYS.map((d) => [d, d === localNow(zone).day ? [] : [['00:00', '23:59']]])) };
    await expectOpen(tenant, admin, allWeekButToday, false, 'today []');
    await expectOpen(tenant, admin, null, true, 'no business hours');
    delete allWeekButToday.weekly[localNow(zone).day];
    await expectOpen(tenant, admin, allWeekButToday, false, 'today absent');
    await expectOpen(tenant, admin, todayOnly(zone, [[0, 1439]]), true, 'all day');
    await expectOpen(tenant, admin, { timezone: zone, weekly: {} }, false, 'no ranges at all');
  });

  it('evaluates the hours in the tenant\'s time zone, not the server\'s nor UTC', async () => {
    const here = zoneAwayFromMidnight(['Asia/Tokyo', 'Asia/Singapore', 'Asia/Kolkata', 'Europe/Madrid']);
    const { minutes } = localNow(here);
    // A zone whose wall clock is at least 3 hours away from `here`'s (or on another day).
    const there = ['America/New_York', 'America/Los_Angeles', 'Europe/London', 'Pacific/Auckland', 'Asia/Tokyo'].find((z) => {
      const other = localNow(z);
      return other.day !== localNow(here).day || Math.abs(other.minutes - minutes) >= 180;
    });
    assert.ok(here && there, `zones: ${here}, ${there}`);
    const { tenant, admin } = await tenantWith(srv.server, {});
    const hours = todayOnly(here, [[minutes - 60, minutes + 60]]);
    await expectOpen(tenant, admin, hours, true, `in ${here}`);
    await expectOpen(tenant, admin, { ...hours, timezone: there }, false, `the same ranges in ${there}`);
  });

  it('follows each zone\'s current UTC offset, daylight saving included', async () => {
    const now = new Date();
    const hasDst = (zone) => offsetMinutes(zone, now) !== offsetMinutes(zone, new Date(now.getTime() + 182 * 86_400_000));
    const inDst = (zone) => offsetMinutes(zone, now) > offsetMinutes(zone, new Date(now.getTime() + 182 * 86_400_000));
    // One zone on summer time now and one with daylight saving on standard time now (north and south differ).
    const summer = zoneAwayFromMidnight(ZONES, (z) => hasDst(z) && inDst(z));
    const winter = zoneAwayFromMidnight(ZONES, (z) => hasDst(z) && !inDst(z));
    const zones = [summer, winter].filter(Boolean);
    assert.ok(zones.length >= 1, 'a zone with daylight saving away from midnight');
    const { tenant, admin } = await tenantWith(srv.server, {});
    for (const zone of zones) {
      const local = localNow(zone).minutes;
      // One hour off (the other season's offset) lands outside [now, now+50) and inside [now-60, now-10).
      await expectOpen(tenant, admin, todayOnly(zone, [[local, local + 50]]), true, `${zone} (UTC${offsetMinutes(zone, now) / 60}) from now`);
      await expectOpen(tenant, admin, todayOnly(zone, [[local - 60, local - 10]]), false, `${zone} the hour before`);
      await expectOpen(tenant, admin, todayOnly(zone, [[local - 10, local + 10]]), true, `${zone} around now`);
      await expectOpen(tenant, admin, todayOnly(zone, [[local + 10, local + 70]]), false, `${zone} the hour after`);
    }
  });

  it('flips open at the minute a range starts or ends, by itself, with service-status to the tenant', async () => {
    const zone = zoneAwayFromMidnight(ZONES, (z) => localNow(z).minutes <= 21 * 60 - 5);
    // The next minute boundary at least 10 s away: both tenants flip there.
    const atLeast = Date.now() + 10_000;
    const boundary = Math.ceil(atLeast / 60_000) * 60_000;
    const local = localNow(zone, new Date(boundary)).minutes; // the local minute that starts at the boundary
    assert.equal(localNow(zone, new Date(boundary)).day, localNow(zone).day);
    const closing = await tenantWith(srv.server, { businessHours: todayOnly(zone, [[local - 60, local]]) });
    const opening = await tenantWith(srv.server, { businessHours: todayOnly(zone, [[local, local + 60]]) });
    const inClosing = await online(srv.server, 'customer', closing.tenant);
    const inOpening = await online(srv.server, 'customer', opening.tenant);
    assert.equal((await service(srv.server, closing.admin)).open, true, 'open before the end of its range');
    assert.equal((await service(srv.server, opening.admin)).open, false, 'closed before the start of its range');
    assert.ok(Date.now() < boundary, 'the set-up ran past the boundary');
    const wait = { timeout: boundary - Date.now() + 5000 };
    const [closed, opened] = await Promise.all([
      waitFor(inClosing.socket, 'service-status', { ...wait, filter: (x) => x.open === false }),
      waitFor(inOpening.socket, 'service-status', { ...wait, filter: (x) => x.open === true }),
    ]);
    for (const [socket, payload] of [[inClosing.socket, closed], [inOpening.socket, opened]]) {
      const at = arrival(socket, payload);
      assert.ok(at >= boundary - 50, `flipped ${boundary - at} ms before the minute`);
      assert.ok(at <= boundary + SWEEP_MS + 1500, `flipped ${at - boundary} ms after the minute (sweep ${SWEEP_MS} ms)`);
    }
    assert.equal((await service(srv.server, closing.admin)).open, false);
    assert.equal((await service(srv.server, opening.admin)).open, true);
  });

  it('sends service-status when open flips, and still lets a customer open a session outside hours, which waits in the queue', async () => {
    const zone = zoneAwayFromMidnight(ZONES);
    const { tenant, admin } = await tenantWith(srv.server, { offlineMessage: 'Closed: leave us a message' });
    const watcher = await online(srv.server, 'customer', tenant);
    const now = localNow(zone).minutes;
    await patchSettings(srv.server, admin, { businessHours: todayOnly(zone, [[now + 120, now + 150]]) });
    const closed = await waitFor(watcher.socket, 'service-status', { ...COALESCED, filter: (x) => x.open === false });
    assertService(closed, { open: false, availableAgents: 0, offlineMessage: 'Closed: leave us a message' });

    const customer = await online(srv.server, 'customer', tenant);
    assertService(customer.connected.service, { open: false, offlineMessage: 'Closed: leave us a message' });
    const session = await openSession(srv.server, customer.user, { message: 'are you there?' });
    assert.equal(session.status, 'pending');
    assertQueue(session.queue, { position: 1 });
    const agent = await online(srv.server, 'agent', tenant);
    const { messages } = await ok(agent.socket, 'join-session', { sessionId: session.id });
    assert.equal(messages[0].content, 'are you there?');

    await patchSettings(srv.server, admin, { businessHours: todayOnly(zone, [[now - 60, now + 60]]) });
    assertService(await waitFor(watcher.socket, 'service-status', { ...COALESCED, filter: (x) => x.open === true }), { open: true });
  });
});

// ================================================================ v1.2 compatibility

describe('a v1.2 client with routing manual', () => {
  const srv = useServer({ args: ARGS });

  it('opens, is taken by the agent who joins, talks and closes exactly as in v1.2', async () => {
    const tenant = uniqueId('t');
    const agent = await online(srv.server, 'agent', tenant);
    const other = await online(srv.server, 'agent', tenant);
    const customer = await online(srv.server, 'customer', tenant);
    const session = await openSession(srv.server, customer.user, { subject: 'Order', message: 'where is it?' });
    assert.equal(session.status, 'pending');
    assert.equal(session.agent, null);
    assert.deepEqual(await waitFor(agent.socket, 'new-pending-session', { filter: (s) => s.id === session.id }), session);
    await ok(customer.socket, 'join-session', { sessionId: session.id });
    // Manual: nobody is assigned anything by the server.
    await expectNo(agent.socket, 'session-updated', QUIET_MS);
    assert.equal((await getSession(srv.server, customer.user, session.id)).status, 'pending');

    const taken = await ok(agent.socket, 'join-session', { sessionId: session.id });
    assert.equal(taken.session.status, 'active');
    assert.deepEqual(taken.session.agent, agent.user.ref);
    assert.deepEqual(taken.messages.map((m) => m.content), ['where is it?']);
    assert.deepEqual((await waitFor(customer.socket, 'session-joined', { filter: (e) => e.user?.id === agent.user.sub })).session.agent, agent.user.ref);
    assert.deepEqual(await updated(customer.socket, session.id), taken.session);
    await expectNo(customer.socket, 'session-updated', 300); // once, although the socket is in the room and the user room
    assert.deepEqual(await updated(other.socket, session.id), taken.session);

    const q = await ok(customer.socket, 'send-message', { sessionId: session.id, content: 'hello?' });
    assert.equal((await waitFor(agent.socket, 'new-message', { filter: (m) => m.id === q.id })).seq, 2);
    const a = await ok(agent.socket, 'send-message', { sessionId: session.id, content: 'on its way' });
    assert.equal((await waitFor(customer.socket, 'new-message', { filter: (m) => m.id === a.id })).seq, 3);
    // The other agent only watches.
    await ok(other.socket, 'join-session', { sessionId: session.id });
    assert.deepEqual((await getSession(srv.server, customer.user, session.id)).agent, agent.user.ref);

    const closed = await ok(customer.socket, 'close-session', { sessionId: session.id });
    assert.equal(closed.status, 'closed');
    const toAgents = await waitFor(other.socket, 'session-closed', { filter: (e) => e.session.id === session.id });
    assert.deepEqual(toAgents.closedBy, customer.user.ref);
    assert.equal((await waitFor(agent.socket, 'session-closed', { filter: (e) => e.session.id === session.id })).session.status, 'closed');
    // No v1.3 event reached the customer beyond what a v1.2 client ignores; the
    // session moved pending -> active -> closed only.
    const statuses = received(customer.socket, 'session-updated').map((s) => s.status);
    assert.deepEqual(statuses, ['active']);
  });
});
