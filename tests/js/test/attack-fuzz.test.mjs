// Issue 6, malformed traffic: thousands of random and mutated Socket.IO
// packets and event payloads from many sockets (socket.io-client events,
// raw Engine.IO websocket frames, raw HTTP long-polling bodies with invalid
// UTF-8). The server never panics and stays up, a control client in its own
// thread keeps getting its acks with bounded latency and is never
// disconnected, and not one row changes. The seed is fixed (ATTACK_SEED
// overrides it) and printed with any failure.
//
// errors.test.mjs proves each documented malformed shape one by one; this
// file throws random ones at the server, many at once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, emitAck, makeUser, ok, uniqueId } from '../lib/clients.mjs';
import { api, expectStatus, openSession } from '../lib/rest.mjs';
import { useServer } from '../lib/server.mjs';
import {
  assertResponsive, assertServerHealthy, attackSeed, controlWorker, pollingHandshake, pollingPost, rawChatSocket,
  rawEngineSocket, seededRandom, snapshotMessages, withSeed, ws,
} from '../lib/attack.mjs';

const KNOWN_EVENTS = ['join-session', 'leave-session', 'send-message', 'typing', 'mark-read', 'close-session'];
const KEYS = ['sessionId', 'lastMessageId', 'content', 'message', 'text', 'clientMessageId', 'isTyping', 'messageId', 'reason', '__proto__', 'constructor', 'seq', 'sender', 'id', ''];
// Bounds of the whole file: counts, and a time budget each phase stops at.
const SOCKETS = 8;
const EVENTS_PER_SOCKET = 400;
const RAW_SOCKETS = 6;
const FRAMES_PER_RAW_SOCKET = 500;
const POLLING_SESSIONS = 30;
const POSTS_PER_POLLING_SESSION = 15;
const PHASE_BUDGET_MS = 25_000;
// Latency a control client may see while the fuzzers run (debug build, 2 shared cores).
const CONTROL_MAX_MS = 2000;
const CONTROL_P99_MS = 1000;

/** Sets an own enumerable property, even `__proto__` (which plain assignment would turn into a prototype). */
function own(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

/** Bytes of the Socket.IO text packet an emit becomes (binary attachments travel in frames of their own). */
function packetBytes(event, args) {
  const placeholder = (k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? { _placeholder: true, num: 0 } : v);
  return Buffer.byteLength(JSON.stringify([event, ...args], placeholder)) + 32;
}

/** A fuzzing vocabulary: the ids an attacker could know, and how to mangle them. */
function vocabulary(r, ids) {
  const mangle = (id) => r.pick([
    id, id.toUpperCase(), ` ${id} `, id.slice(0, r.int(0, id.length)), `${id}${id}`, id.replace(/-/g, ''),
    `${id}\u0000`, `${id}\u202e`, `'; DROP TABLE messages; --`, '../../etc/passwd', '%00', '0'.repeat(r.int(1, 400)),
  ]);
  const string = () => {
    switch (r.int(0, 9)) {
      case 0: return '';
      case 1: return ' \t\n ';
      case 2: return 'x'.repeat(r.int(4000, 4100));
      case 3: return 'é😀'.repeat(r.int(1, 3000));
      case 4: return String.fromCharCode(...Array.from({ length: r.int(1, 40) }, () => r.int(0, 0xffff)));
      case 5: return '\ud800 lone \udfff surrogates';
      case 6: return mangle(r.pick(ids));
      case 7: return r.pick(ids);
      case 8: return 'y'.repeat(r.int(20_000, 50_000));
      default: return r.bytes(r.int(0, 30)).toString('latin1');
    }
  };
  const value = (depth = 0) => {
    const kind = depth > 6 ? r.int(0, 5) : r.int(0, 9);
    switch (kind) {
      case 0: return null;
      case 1: return r.chance(0.5);
      case 2: return r.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, -0]);
      case 3: case 4: case 5: return string();
      case 6: return Array.from({ length: r.int(0, 5) }, () => value(depth + 1));
      case 7: return nested(r.int(10, 100));
      default: {
        const obj = {};
        for (let i = r.int(0, 6); i > 0; i -= 1) own(obj, r.chance(0.8) ? r.pick(KEYS) : string().slice(0, 50), value(depth + 1));
        return obj;
      }
    }
  };
  const nested = (depth) => {
    let v = r.pick([r.pick(ids), 1, null]);
    for (let i = 0; i < depth; i += 1) v = r.chance(0.5) ? [v] : own({}, r.pick(KEYS), v);
    return v;
  };
  /** A payload near the documented shape of `event`, with one or more fields mangled. */
  const nearValid = (event) => {
    const base = {
      'join-session': { sessionId: r.pick(ids), lastMessageId: r.pick(ids) },
      'leave-session': { sessionId: r.pick(ids) },
      'send-message': { sessionId: r.pick(ids), content: 'fuzz', clientMessageId: r.pick(ids) },
      typing: { sessionId: r.pick(ids), isTyping: true },
      'mark-read': { sessionId: r.pick(ids), messageId: r.pick(ids) },
      'close-session': { sessionId: r.pick(ids), reason: 'fuzz' },
    }[event] ?? {};
    const out = { ...base };
    for (let i = r.int(1, 3); i > 0; i -= 1) own(out, r.pick(Object.keys(base).concat(KEYS)), value(1));
    return out;
  };
  return { string, value, nested, nearValid, mangle };
}

/**
 * The fuzz tenant: a victim session (active, with messages both ways) and
 * fuzzing customers, each with a closed session of their own that holds only
 * their own messages. Nothing a fuzzer can send is a valid change: every
 * request is malformed, forbidden, not_found, rate_limited, session_closed,
 * or a no-op (joining their own closed session, marking nothing read).
 */
async function fuzzTenant(server) {
  const tenant = uniqueId('fuzz');
  const victim = makeUser('customer', { tenant });
  const victimSession = await openSession(server, victim, { message: 'victim question' });
  const agent = makeUser('agent', { tenant });
  const agentSocket = await connect(server, agent.token, ws);
  await ok(agentSocket, 'join-session', { sessionId: victimSession.id });
  const answer = await ok(agentSocket, 'send-message', { sessionId: victimSession.id, content: 'victim answer' });
  const fuzzers = [];
  for (let i = 0; i < SOCKETS; i += 1) {
    const user = makeUser('customer', { tenant });
    const session = await openSession(server, user, { message: `fuzzer ${i} message` });
    await expectStatus(api(server, user, 'POST', `/api/chat/sessions/${session.id}/close`, { body: {} }), 200);
    fuzzers.push({ user, session });
  }
  const admin = makeUser('admin', { tenant });
  const sessionIds = [victimSession.id, ...fuzzers.map((f) => f.session.id)];
  const messageIds = Object.values(await snapshotMessages(server, admin, sessionIds)).flat().map((m) => m.id);
  return { tenant, victim, victimSession, agent, agentSocket, answer, fuzzers, admin, sessionIds, ids: [...sessionIds, ...messageIds, answer.id, '0190a0f4-1c2b-7d3e-8f40-123456789abc', agent.sub, victim.sub] };
}

/** Every session of the tenant (as the admin lists them) and every message of each. */
async function storedState(server, world) {
  const sessions = await expectStatus(api(server, world.admin, 'GET', '/api/chat/sessions?limit=200'), 200);
  return { sessions: sessions.items, messages: await snapshotMessages(server, world.admin, world.sessionIds) };
}

/** socket.io-client fuzzers: random events (known names with acks, unknown names without), random args, binary attachments. */
async function fuzzEvents(server, world, r) {
  const vocab = vocabulary(r, world.ids);
  const deadline = Date.now() + PHASE_BUDGET_MS;
  const sockets = [];
  for (const { user } of world.fuzzers) sockets.push(await connect(server, user.token, ws));
  let emitted = 0;
  const missingAcks = [];
  await Promise.all(sockets.map(async (socket, n) => {
    for (let i = 0; i < EVENTS_PER_SOCKET && Date.now() < deadline; i += 10) {
      const batch = [];
      for (let k = 0; k < 10; k += 1) {
        const known = r.chance(0.8);
        // Unknown names from characters JSON needs no escape for: socketioxide cannot parse an event
        // name with an escape (a control character, a quote, a lone surrogate) and drops the socket,
        // like any malformed packet. Those names go through the raw websocket phase instead.
        const event = known ? r.pick(KNOWN_EVENTS) : r.pick(['no-such-event', 'JOIN-SESSION', 'send_message', ' typing', 'x'.repeat(r.int(1, 2000)), '💥', 'é', '']);
        const args = [];
        switch (r.int(0, 5)) {
          case 0: break; // no payload at all
          case 1: args.push(vocab.nearValid(event)); break;
          case 2: args.push(vocab.value()); break;
          case 3: args.push(r.bytes(r.int(0, 2048))); break; // a binary attachment as the payload
          case 4: args.push({ sessionId: r.pick(world.ids), content: r.bytes(r.int(1, 64)), blob: r.bytes(16) }); break;
          default: args.push(vocab.value(), vocab.value(), r.bytes(8)); // several arguments
        }
        // Stay under the 64 KiB websocket message cap: a larger message closes the socket by design (attack-abuse).
        while (packetBytes(event, args) > 60_000) args.splice(0, args.length, vocab.nearValid(event));
        emitted += 1;
        if (known) {
          batch.push(emitAck(socket, event, ...args).catch((err) => {
            missingAcks.push(`socket ${n} ${event} ${JSON.stringify(args).slice(0, 200)}: ${err.message.slice(0, 200)}`);
          }));
        } else {
          socket.emit(event, ...args);
        }
      }
      await Promise.all(batch);
    }
  }));
  const dropped = sockets.filter((s) => !s.connected).length;
  return { emitted, missingAcks, dropped };
}

/** Mutates a string: flips, deletes, inserts and duplicates characters. */
function mutate(r, text) {
  let out = text;
  for (let i = r.int(1, 4); i > 0; i -= 1) {
    const at = r.int(0, out.length);
    switch (r.int(0, 4)) {
      case 0: out = out.slice(0, at) + String.fromCharCode(r.int(0, 255)) + out.slice(at + 1); break;
      case 1: out = out.slice(0, at) + out.slice(at + r.int(1, 10)); break;
      case 2: out = out.slice(0, at) + r.pick(['[', ']', '{', '}', '"', ',', '-', '/', '\\', '4', '2', '\u0000', '\ud800']) + out.slice(at); break;
      case 3: out = out.slice(0, at) + out.slice(Math.max(0, at - 20), at) + out.slice(at); break;
      default: out = out.slice(0, at);
    }
  }
  return out;
}

/** Raw frames: valid Socket.IO packets mutated, wrong packet types, bad attachments, Engine.IO garbage, invalid UTF-8. */
function rawFrame(r, world, vocab) {
  const sid = r.pick(world.ids);
  const valid = [
    `42/chat,["send-message",{"sessionId":"${sid}","content":"raw"}]`,
    `42/chat,${r.int(0, 1e6)}["join-session",{"sessionId":"${sid}"}]`,
    `42/chat,["typing",{"sessionId":"${sid}","isTyping":true}]`,
    `42/chat,${r.int(0, 99)}["mark-read","${sid}"]`,
  ];
  switch (r.int(0, 15)) {
    case 0: case 1: case 2: return mutate(r, r.pick(valid));
    case 3: return `42/chat,${JSON.stringify([r.pick(KNOWN_EVENTS), vocab.value()])}`;
    case 4: return `42/chat,99999999999999999999999["join-session","${sid}"]`; // ack id overflow
    case 5: return `4${r.int(0, 9)}/chat,${vocab.string().slice(0, 500)}`; // any packet type, junk body
    case 6: return `45${r.pick(['', '-', '1-', '99999-', '-1-', '4294967296-'])}/chat,["send-message",{"_placeholder":true,"num":${r.int(-1, 5)}}]`; // attachments that never come
    case 7: return { data: r.bytes(r.int(0, 512)), binary: true }; // a binary frame nobody announced
    case 8: return { data: Buffer.concat([Buffer.from('42/chat,["send-message",{"content":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from('"}]')]), binary: false }; // invalid UTF-8 text
    case 9: return r.pick(['', '4', '42', '42/chat', '42/chat,', '40/nope,', '40/', '41/chat,', '6', '5', '3', '2junk', '1', '7', '9']);
    case 10: return `42/chat,["${r.pick(KNOWN_EVENTS)}",${'['.repeat(r.int(100, 20_000))}`; // unterminated deep nesting
    case 11: { const d = r.int(100, 25_000); return `42/chat,["send-message",${'['.repeat(d)}${']'.repeat(d)}]`; } // deep nesting
    case 12: { const d = r.int(100, 10_000); return `42/chat,["join-session",${'{"a":'.repeat(d)}1${'}'.repeat(d)}]`; }
    case 13: return `42/chat,["send-message",{"sessionId":"${sid}","content":"${'\\u0000'.repeat(r.int(1, 2000))}"}]`;
    case 14: return r.chance(0.5) ? r.bytes(r.int(1, 200)).toString('latin1') : `42/chat,${JSON.stringify([vocab.string().slice(0, 200), 1])}`; // junk, or an event name with escapes
    default: return `42/chat,${JSON.stringify([r.pick(KNOWN_EVENTS), vocab.nearValid('send-message'), vocab.value()])}`;
  }
}

/** Raw websocket fuzzers; a socket the server closes is replaced by a new one. */
async function fuzzRawWebsockets(server, world, r) {
  const vocab = vocabulary(r, world.ids);
  const deadline = Date.now() + PHASE_BUDGET_MS;
  let sent = 0;
  let reopened = 0;
  await Promise.all(Array.from({ length: RAW_SOCKETS }, async (_, n) => {
    const token = world.fuzzers[n % world.fuzzers.length].user.token;
    let raw = r.chance(0.8) ? await rawChatSocket(server, token) : await rawEngineSocket(server);
    for (let i = 0; i < FRAMES_PER_RAW_SOCKET && Date.now() < deadline; i += 1) {
      if (!raw.isOpen) {
        reopened += 1;
        raw = await rawChatSocket(server, token);
      }
      const frame = rawFrame(r, world, vocab);
      sent += 1;
      if (typeof frame === 'string') await raw.send(frame);
      else await raw.send(frame.data, { binary: frame.binary });
    }
    raw.socket.terminate();
  }));
  return { sent, reopened };
}

/** Engine.IO payloads over HTTP long-polling: several packets per POST, invalid UTF-8, bad sids. */
async function fuzzPolling(server, world, r) {
  const vocab = vocabulary(r, world.ids);
  const deadline = Date.now() + PHASE_BUDGET_MS;
  const statuses = {};
  let posts = 0;
  const count = (status) => { statuses[status] = (statuses[status] ?? 0) + 1; };
  await Promise.all(Array.from({ length: POLLING_SESSIONS }, async (_, n) => {
    const token = world.fuzzers[n % world.fuzzers.length].user.token;
    let sid = await pollingHandshake(server);
    count((await pollingPost(server, sid, `40/chat,${JSON.stringify({ token })}`)).status);
    for (let i = 0; i < POSTS_PER_POLLING_SESSION && Date.now() < deadline; i += 1) {
      const packets = Array.from({ length: r.int(1, 6) }, () => {
        const f = rawFrame(r, world, vocab);
        return typeof f === 'string' ? Buffer.from(f) : Buffer.concat([Buffer.from('b'), Buffer.from(f.data.toString('base64').slice(0, r.int(0, 100)))]);
      });
      const invalidUtf8 = Buffer.from(r.pick([[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]]));
      const parts = [];
      for (const p of packets) parts.push(p, Buffer.from([0x1e]));
      if (r.chance(0.6)) parts.splice(r.int(0, parts.length), 0, invalidUtf8);
      const body = Buffer.concat(parts);
      const target = r.chance(0.1) ? r.pick(['', 'nope', 'x'.repeat(5000), `${sid}x`]) : sid;
      posts += 1;
      const res = await pollingPost(server, target, body, { headers: r.chance(0.2) ? { 'content-type': r.pick(['application/octet-stream', 'text/html', 'x/y; charset=utf-32']) } : {} });
      count(res.status);
      if (res.status !== 200 && target === sid) {
        sid = await pollingHandshake(server); // the server dropped this session: start another
        count((await pollingPost(server, sid, `40/chat,${JSON.stringify({ token })}`)).status);
      }
    }
  }));
  return { posts, statuses };
}

describe('fuzzing the server with malformed traffic', () => {
  // The fuzzers' events must reach the handlers, and the control client
  // measures latency with back-to-back acks: neither is the per-socket
  // event limit's business (limits.test.mjs tests it).
  const srv = useServer({ args: ['--event-rate-per-second', '100000', '--event-burst', '100000'] });

  it('survives thousands of random and mutated packets from many sockets without a panic, a dropped bystander, a delay or a changed row', async (t) => {
    const seed = attackSeed();
    t.diagnostic(`seed ${seed} (ATTACK_SEED=${seed} replays it)`);
    await withSeed(seed, async () => {
      const server = srv.server;
      const world = await fuzzTenant(server);
      const before = await storedState(server, world);
      const control = controlWorker(server, { token: world.victim.token, event: 'join-session', payload: { sessionId: world.victimSession.id } });
      t.after(() => control.stop());
      await control.ready;

      let events;
      let raw;
      let polling;
      try {
        events = await fuzzEvents(server, world, seededRandom(seed));
        raw = await fuzzRawWebsockets(server, world, seededRandom(seed + 1));
        polling = await fuzzPolling(server, world, seededRandom(seed + 2));
      } finally {
        assertServerHealthy(server, 'while fuzzing:');
      }
      const summary = await control.stop();
      t.diagnostic(`events ${events.emitted}, raw frames ${raw.sent} (${raw.reopened} reopened), polling posts ${polling.posts} ${JSON.stringify(polling.statuses)}; ` +
        `control p50 ${summary.p50.toFixed(1)} ms, p99 ${summary.p99.toFixed(1)} ms, max ${summary.max.toFixed(1)} ms over ${summary.count}`);

      assertServerHealthy(server, 'after fuzzing:');
      assert.ok(events.emitted + raw.sent + polling.posts >= 2000, 'the fuzzers sent too little');
      assert.deepEqual(events.missingAcks.slice(0, 10), [], `${events.missingAcks.length} events of known names got no ack`);
      assert.equal(events.dropped, 0, 'well-formed Socket.IO packets with malformed payloads dropped a fuzzing socket');
      assertResponsive(summary, { maxMs: CONTROL_MAX_MS, p99Ms: CONTROL_P99_MS, minCount: 20 });
      assert.equal(world.agentSocket.connected, true, 'the victim\'s agent was disconnected');
      const forged = (summary.events['new-message'] ?? 0) + (summary.events['session-closed'] ?? 0);
      assert.equal(forged, 0, `the control client received ${JSON.stringify(summary.events)}`);

      const after = await storedState(server, world);
      assert.deepEqual(after.sessions, before.sessions, 'a session changed');
      assert.deepEqual(after.messages, before.messages, 'a message was stored or changed');
      // Still fully working for a legitimate client.
      const fresh = await connect(server, world.victim.token, ws);
      await ok(fresh, 'join-session', { sessionId: world.victimSession.id });
    });
  });
});
