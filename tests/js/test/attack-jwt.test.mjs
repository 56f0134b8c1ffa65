// Issue 6, JWT: every kind of bad token is refused the same way on both
// doors (socket `connect_error` with the right reason, REST 401
// unauthorized) and leaves no trace: the refused subject is not a user the
// server knows. A role name that does not exist gives customer rights only.
//
// auth.test.mjs already proves the socket reason of most rows one by one;
// this file proves the whole table on both doors plus "nothing stored", and
// the rows it lacks (nbf, sub shapes, REST for alg none / iss / aud / key
// confusion).

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  connect, connectError, expectError, expectNo, hmacToken, makeUser, mintToken, ok, uniqueId, unsignedToken, waitFor,
} from '../lib/clients.mjs';
import { api, expectRestError, expectStatus, openSession } from '../lib/rest.mjs';
import { JWT_SECRET, spawnKeyServerFor, useServer } from '../lib/server.mjs';
import { ws } from '../lib/attack.mjs';

const now = () => Math.floor(Date.now() / 1000);
const ISSUER = 'https://id.example';
const AUDIENCE = 'switchboard';

/** Routes a refused token must not open, with a body where they take one. */
const REST_PROBES = [
  ['GET', '/api/chat/sessions'],
  ['POST', '/api/chat/sessions', { subject: 'let me in' }],
  ['GET', '/api/chat/stats'],
  ['GET', '/ws/stats'],
];

/**
 * Asserts that `token` is refused on the socket with `unauthorized: <reason>`
 * (one of `reasons`), over websocket and polling, and with 401 unauthorized on
 * every REST probe (as a Bearer header). `headerValue` overrides the whole
 * Authorization header for REST (null: none).
 */
async function expectRefusedEverywhere(server, token, reasons, { headerValue } = {}) {
  for (const transports of [['websocket'], ['polling']]) {
    const err = await connectError(server, token, { transports });
    assert.ok(reasons.map((r) => `unauthorized: ${r}`).includes(err.message),
      `${transports}: expected unauthorized: ${reasons.join('|')}, got ${JSON.stringify(err.message)}`);
  }
  const header = headerValue === undefined ? (token === undefined ? null : `Bearer ${token}`) : headerValue;
  for (const [method, route, body] of REST_PROBES) {
    const headers = header === null ? {} : { authorization: header };
    await expectRestError(api(server, null, method, route, { headers, body }), 401, 'unauthorized', `${method} ${route}:`);
  }
}

/** An admin assigning a pending session to `sub` gets not_found: the server never met `sub`. */
async function expectUnknownUser(server, sub, claims = {}) {
  const customer = makeUser('customer', { claims });
  const session = await openSession(server, customer);
  const admin = makeUser('admin', { claims });
  await expectRestError(api(server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: String(sub) } }),
    404, 'not_found', `assign to refused sub ${sub}:`);
  const listed = await expectStatus(api(server, admin, 'GET', '/api/chat/sessions?limit=200'), 200);
  assert.ok(listed.items.every((s) => s.customer.id !== String(sub)), 'a session of the refused user exists');
}

/** The table of issue 6, for a server with an HS256 secret and iss/aud configured. */
function hsTable() {
  const good = (sub) => ({ sub, role: 'agent', iss: ISSUER, aud: AUDIENCE });
  return [
    ['no token', () => ({ token: undefined, reasons: ['missing_token'] })],
    ['an empty token', () => ({ token: '', reasons: ['missing_token', 'invalid_token'], headerValue: 'Bearer ' })],
    ['"Bearer " and nothing else', () => ({ token: 'Bearer ', reasons: ['missing_token', 'invalid_token'] })],
    ['garbage', () => ({ token: 'garbage', reasons: ['invalid_token'] })],
    ['three garbage segments', () => ({ token: 'eyJ.eyJ.sig', reasons: ['invalid_token'] })],
    ['alg none', (sub) => ({ token: unsignedToken(good(sub)), reasons: ['invalid_token'] })],
    ['alg "None" with a signature', (sub) => {
      const [, body] = mintToken(good(sub)).split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'None', typ: 'JWT' })).toString('base64url');
      return { token: `${header}.${body}.c2ln`, reasons: ['invalid_token'] };
    }],
    ['HS256 signed with another secret', (sub) => ({ token: mintToken(good(sub), 'another-secret-another-secret-0'), reasons: ['invalid_token'] })],
    ['HS512 signed with the right secret', (sub) => ({ token: mintToken(good(sub), JWT_SECRET, { algorithm: 'HS512' }), reasons: ['invalid_token'] })],
    ['a valid token with its signature stripped', (sub) => ({ token: `${mintToken(good(sub)).split('.').slice(0, 2).join('.')}.`, reasons: ['invalid_token'] })],
    ['a valid token with a tampered payload', (sub) => {
      const [h, , s] = mintToken(good(sub)).split('.');
      const forged = Buffer.from(JSON.stringify({ ...good(sub), role: 'admin', exp: now() + 3600 })).toString('base64url');
      return { token: `${h}.${forged}.${s}`, reasons: ['invalid_token'] };
    }],
    ['expired beyond the leeway', (sub) => ({ token: mintToken({ ...good(sub), exp: now() - 3600 }), reasons: ['expired_token'] })],
    ['expired just beyond the 30 s leeway', (sub) => ({ token: mintToken({ ...good(sub), exp: now() - 45 }), reasons: ['expired_token'] })],
    ['nbf an hour in the future', (sub) => ({ token: mintToken({ ...good(sub), nbf: now() + 3600 }), reasons: ['invalid_token'] })],
    ['nbf beyond the leeway', (sub) => ({ token: mintToken({ ...good(sub), nbf: now() + 120 }), reasons: ['invalid_token'] })],
    ['the wrong iss', (sub) => ({ token: mintToken({ ...good(sub), iss: 'https://evil.example' }), reasons: ['invalid_token'] })],
    ['no iss', (sub) => { const { iss, ...c } = good(sub); return { token: mintToken(c), reasons: ['invalid_token'] }; }],
    ['the wrong aud', (sub) => ({ token: mintToken({ ...good(sub), aud: 'someone-else' }), reasons: ['invalid_token'] })],
    ['no aud', (sub) => { const { aud, ...c } = good(sub); return { token: mintToken(c), reasons: ['invalid_token'] }; }],
    ['no exp', (sub) => ({ token: mintToken(good(sub), JWT_SECRET, { noExp: true }), reasons: ['invalid_token'] })],
    ['exp that is not a number', (sub) => ({ token: hmacToken({ ...good(sub), exp: 'tomorrow' }, JWT_SECRET), reasons: ['invalid_token'] })],
    ['no sub', () => { const { sub: _, ...c } = good('x'); return { token: mintToken(c), reasons: ['invalid_token'], noSub: true }; }],
    ['an empty sub', () => ({ token: hmacToken(good(''), JWT_SECRET), reasons: ['invalid_token'], noSub: true })],
    ['a null sub', () => ({ token: hmacToken(good(null), JWT_SECRET), reasons: ['invalid_token'], noSub: true })],
    ['an object sub', (sub) => ({ token: hmacToken(good({ id: sub }), JWT_SECRET), reasons: ['invalid_token'] })],
    ['an array sub', (sub) => ({ token: hmacToken(good([sub]), JWT_SECRET), reasons: ['invalid_token'] })],
    ['a boolean sub', () => ({ token: hmacToken(good(true), JWT_SECRET), reasons: ['invalid_token'], remembered: 'true' })],
    ['a fractional number sub', () => ({ token: hmacToken(good(4.5), JWT_SECRET), reasons: ['invalid_token'], remembered: '4.5' })],
  ];
}

describe('bad tokens on an HS256 server with iss and aud configured', () => {
  const srv = useServer({ args: ['--jwt-issuer', ISSUER, '--jwt-audience', AUDIENCE] });

  for (const [label, make] of hsTable()) {
    it(`refuses ${label} on the socket and on REST, and stores nothing`, async () => {
      const sub = uniqueId('refused');
      const { token, reasons, headerValue, noSub, remembered } = make(sub);
      await expectRefusedEverywhere(srv.server, token, reasons, { headerValue });
      if (!noSub && token !== undefined) await expectUnknownUser(srv.server, remembered ?? sub, { iss: ISSUER, aud: AUDIENCE });
    });
  }

  it('accepts the same claims when the token is right (the table is not refusing everything)', async () => {
    const sub = uniqueId('accepted');
    const token = mintToken({ sub, role: 'agent', iss: ISSUER, aud: AUDIENCE });
    const socket = await connect(srv.server, token, ws);
    assert.equal((await waitFor(socket, 'connected')).user.id, sub);
    await expectStatus(api(srv.server, token, 'GET', '/api/chat/stats'), 200);
  });
});

describe('algorithm confusion on an RS256 server', () => {
  it('refuses an HS256 token whose secret is the server\'s public key, and HS256/none tokens, on both doors', async (t) => {
    const { server, publicKey, privateKey } = await spawnKeyServerFor(t, ['rsa', { modulusLength: 2048 }]);
    const claims = (sub) => ({ sub, role: 'admin' });

    const cases = [
      ['the PEM text as HMAC secret', (sub) => hmacToken(claims(sub), publicKey)],
      ['the PEM text without its final newline', (sub) => hmacToken(claims(sub), publicKey.trimEnd())],
      ['the DER bytes as HMAC secret', (sub) => hmacToken(claims(sub), Buffer.from(publicKey.split('\n').filter((l) => l && !l.startsWith('-----')).join(''), 'base64'))],
      ['HS256 with the test secret', (sub) => mintToken(claims(sub), JWT_SECRET)],
      ['alg none', (sub) => unsignedToken(claims(sub))],
      ['RS256 signed by another key', (sub) => {
        const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return mintToken(claims(sub), other.privateKey, { algorithm: 'RS256' });
      }],
    ];
    for (const [label, make] of cases) {
      const sub = uniqueId('confused');
      await expectRefusedEverywhere(server, make(sub), ['invalid_token']).catch((err) => {
        err.message = `${label}: ${err.message}`;
        throw err;
      });
      // Nothing stored: an admin with a real RS256 token cannot assign to the refused sub.
      const admin = mintToken({ sub: uniqueId('admin'), role: 'admin' }, privateKey, { algorithm: 'RS256' });
      const customer = mintToken({ sub: uniqueId('c'), role: 'customer' }, privateKey, { algorithm: 'RS256' });
      const session = await openSession(server, customer);
      await expectRestError(api(server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: sub } }),
        404, 'not_found', `${label}: assign to the refused sub:`);
    }
    // The genuine RS256 token works, so the refusals above are about the algorithm.
    const good = mintToken({ sub: uniqueId('rs'), role: 'agent' }, privateKey, { algorithm: 'RS256' });
    await expectStatus(api(server, good, 'GET', '/api/chat/stats'), 200);
  });
});

describe('role names that do not exist', () => {
  const srv = useServer();

  for (const roleClaims of [
    { role: 'superuser' },
    { role: 'root' },
    { role: 'administrator' },
    { role: 'agents' },
    { role: '' },
    { roles: ['owner', 'staff'] },
    { role: 'customer', roles: ['god-mode'] },
  ]) {
    it(`gives ${JSON.stringify(roleClaims)} customer rights and nothing more`, async () => {
      const victim = makeUser('customer');
      const victimSession = await openSession(srv.server, victim, { message: 'private' });
      const user = { sub: uniqueId('odd'), ...roleClaims };
      const token = mintToken(user);
      const socket = await connect(srv.server, token, ws);
      assert.equal((await waitFor(socket, 'connected')).user.role, 'customer');
      // No staff room: no stats snapshot, no news of new sessions.
      await expectNo(socket, 'stats-update', 200);
      await openSession(srv.server, makeUser('customer'));
      await expectNo(socket, 'new-pending-session', 200);
      // No staff rights on another customer's session, by socket or REST.
      await expectError(socket, 'forbidden', 'join-session', { sessionId: victimSession.id });
      await expectError(socket, ['forbidden', 'not_found'], 'send-message', { sessionId: victimSession.id, content: 'x' });
      await expectError(socket, ['forbidden', 'not_found'], 'close-session', { sessionId: victimSession.id });
      await expectRestError(api(srv.server, token, 'GET', `/api/chat/sessions/${victimSession.id}`), 403, 'forbidden');
      await expectRestError(api(srv.server, token, 'POST', `/api/chat/sessions/${victimSession.id}/assign`, { body: {} }), 403, 'forbidden');
      await expectRestError(api(srv.server, token, 'GET', '/api/chat/stats'), 403, 'forbidden');
      await expectRestError(api(srv.server, token, 'GET', '/ws/stats'), 403, 'forbidden');
      const listed = await expectStatus(api(srv.server, token, 'GET', '/api/chat/sessions?limit=200'), 200);
      assert.deepEqual(listed.items, [], 'a customer lists only their own sessions');
      // Customer rights do work: they can open their own session.
      const own = await openSession(srv.server, token);
      assert.equal(own.customer.role, 'customer');
      await ok(socket, 'join-session', { sessionId: own.id });
      // And an admin cannot make them an agent by assigning: the server knows them as a customer.
      await expectRestError(api(srv.server, makeUser('admin'), 'POST', `/api/chat/sessions/${victimSession.id}/assign`, { body: { agentId: user.sub } }),
        404, 'not_found');
    });
  }
});
