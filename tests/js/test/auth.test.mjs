// docs/protocol.md §2: where the handshake finds the JWT, which tokens are refused
// and with which `connect_error`, and how claims become a user.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import {
  connect, connectError, emitAck, hmacToken, makeUser, mintToken, ok, uniqueId, unsignedToken, waitFor, expectNo,
} from '../lib/clients.mjs';
import { api, expectRestError, openSession } from '../lib/rest.mjs';
import { JWT_SECRET, spawnKeyServerFor, spawnServerFor, useServer } from '../lib/server.mjs';

const now = () => Math.floor(Date.now() / 1000);

async function connectedUser(server, token, options) {
  const socket = await connect(server, token, options);
  const { user } = await waitFor(socket, 'connected');
  return { socket, user };
}

async function expectRefused(server, token, reason, options) {
  const err = await connectError(server, token, options);
  assert.equal(err.message, `unauthorized: ${reason}`);
  assert.ok(err.message.startsWith('unauthorized'));
}

describe('where the handshake finds the token', () => {
  const srv = useServer();

  it('accepts the token in auth.token', async () => {
    const customer = makeUser('customer');
    const { user } = await connectedUser(srv.server, customer.token, { transports: ['websocket'] });
    assert.deepEqual(user, customer.ref);
  });

  it('accepts the token in auth.token with a leading "Bearer "', async () => {
    const customer = makeUser('customer');
    const { user } = await connectedUser(srv.server, undefined, { auth: { token: `Bearer ${customer.token}` }, transports: ['websocket'] });
    assert.deepEqual(user, customer.ref);
  });

  it('accepts the token in the token query parameter', async () => {
    const customer = makeUser('customer');
    const { user } = await connectedUser(srv.server, undefined, { query: { token: customer.token }, transports: ['websocket'] });
    assert.deepEqual(user, customer.ref);
  });

  it('accepts the token in the Authorization header over websocket', async () => {
    const customer = makeUser('customer');
    const { user } = await connectedUser(srv.server, undefined, {
      extraHeaders: { Authorization: `Bearer ${customer.token}` }, transports: ['websocket'],
    });
    assert.deepEqual(user, customer.ref);
  });

  it('accepts the token in the Authorization header over polling', async () => {
    const customer = makeUser('customer');
    const { user } = await connectedUser(srv.server, undefined, {
      extraHeaders: { Authorization: `Bearer ${customer.token}` }, transports: ['polling'],
    });
    assert.deepEqual(user, customer.ref);
  });

  it('prefers auth.token over the query parameter and the header', async () => {
    const first = makeUser('customer');
    const second = makeUser('customer');
    const third = makeUser('customer');
    const { user } = await connectedUser(srv.server, first.token, {
      query: { token: second.token }, extraHeaders: { Authorization: `Bearer ${third.token}` }, transports: ['websocket'],
    });
    assert.deepEqual(user, first.ref);
  });

  it('prefers the query parameter over the header', async () => {
    const second = makeUser('customer');
    const third = makeUser('customer');
    const { user } = await connectedUser(srv.server, undefined, {
      query: { token: second.token }, extraHeaders: { Authorization: `Bearer ${third.token}` }, transports: ['websocket'],
    });
    assert.deepEqual(user, second.ref);
  });
});

describe('tokens the handshake refuses', () => {
  const srv = useServer();
  const claims = () => ({ sub: uniqueId('c'), role: 'customer' });

  it('refuses a connection without a token with "unauthorized: missing_token"', async () => {
    await expectRefused(srv.server, undefined, 'missing_token', { transports: ['websocket'] });
  });

  it('refuses an empty auth.token with "unauthorized: missing_token" or "invalid_token"', async () => {
    const err = await connectError(srv.server, '', { transports: ['websocket'] });
    assert.ok(['unauthorized: missing_token', 'unauthorized: invalid_token'].includes(err.message), err.message);
  });

  it('refuses a garbage token with "unauthorized: invalid_token"', async () => {
    await expectRefused(srv.server, 'not.a.jwt', 'invalid_token', { transports: ['websocket'] });
    await expectRefused(srv.server, 'garbage', 'invalid_token', { transports: ['websocket'] });
  });

  it('refuses a token whose auth.token is not a string with "unauthorized"', async () => {
    const err = await connectError(srv.server, undefined, { auth: { token: 42 }, transports: ['websocket'] });
    assert.ok(err.message.startsWith('unauthorized: '), err.message);
  });

  it('refuses an expired token with "unauthorized: expired_token"', async () => {
    const token = mintToken({ ...claims(), exp: now() - 3600 });
    await expectRefused(srv.server, token, 'expired_token', { transports: ['websocket'] });
  });

  it('accepts a token expired for less than the default 30 s leeway', async () => {
    const token = mintToken({ ...claims(), exp: now() - 5 });
    await connectedUser(srv.server, token, { transports: ['websocket'] });
  });

  it('refuses a token signed with another secret with "unauthorized: invalid_token"', async () => {
    const token = mintToken(claims(), 'some-other-secret-entirely-0000');
    await expectRefused(srv.server, token, 'invalid_token', { transports: ['websocket'] });
  });

  it('refuses an alg none token with "unauthorized: invalid_token"', async () => {
    await expectRefused(srv.server, unsignedToken(claims()), 'invalid_token', { transports: ['websocket'] });
  });

  it('refuses a token signed with HS384 when HS256 is configured', async () => {
    const token = mintToken(claims(), JWT_SECRET, { algorithm: 'HS384' });
    await expectRefused(srv.server, token, 'invalid_token', { transports: ['websocket'] });
  });

  it('refuses a token without exp with "unauthorized: invalid_token"', async () => {
    const token = mintToken(claims(), JWT_SECRET, { noExp: true });
    assert.equal(jwt.decode(token).exp, undefined);
    await expectRefused(srv.server, token, 'invalid_token', { transports: ['websocket'] });
  });

  for (const [label, tenant] of [['a number', 7], ['an empty string', ''], ['an array', ['acme']], ['an object', { id: 'acme' }], ['null', null]]) {
    it(`refuses a tenant claim that is ${label} with "unauthorized: invalid_token"`, async () => {
      const token = mintToken({ ...claims(), tenant });
      await expectRefused(srv.server, token, 'invalid_token', { transports: ['websocket'] });
    });
  }

  it('refuses over polling with the same connect_error message', async () => {
    await expectRefused(srv.server, undefined, 'missing_token', { transports: ['polling'] });
    await expectRefused(srv.server, mintToken({ ...claims(), exp: now() - 3600 }), 'expired_token', { transports: ['polling'] });
  });

  it('stores nothing about a user whose token was refused', async () => {
    const admin = makeUser('admin');
    const refusedAgent = { sub: uniqueId('agent'), role: 'agent' };
    await expectRefused(srv.server, mintToken({ ...refusedAgent, exp: now() - 3600 }), 'expired_token', { transports: ['websocket'] });
    await expectRefused(srv.server, mintToken(refusedAgent, 'wrong-secret-wrong-secret-0000'), 'invalid_token', { transports: ['websocket'] });
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer);
    // The admin can only assign to agents the server knows: the refused one must be unknown.
    await expectRestError(api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: refusedAgent.sub } }),
      404, 'not_found', 'assign to a user whose token was refused:');
  });
});

describe('how claims become a user', () => {
  const srv = useServer();

  it('turns a numeric sub into its decimal string', async () => {
    const sub = 900000 + Math.floor(Math.random() * 99999);
    const { user } = await connectedUser(srv.server, mintToken({ sub, role: 'customer' }), { transports: ['websocket'] });
    assert.equal(user.id, String(sub));
    assert.equal(typeof user.id, 'string');
  });

  it('keeps a string sub verbatim', async () => {
    const sub = `Ünïcode|${uniqueId('x')}@example.com`;
    const { user } = await connectedUser(srv.server, mintToken({ sub, role: 'customer' }), { transports: ['websocket'] });
    assert.equal(user.id, sub);
  });

  it('reports the name claim, and null without one', async () => {
    const named = await connectedUser(srv.server, mintToken({ sub: uniqueId('c'), role: 'customer', name: 'Ada Lovelace' }), { transports: ['websocket'] });
    assert.equal(named.user.name, 'Ada Lovelace');
    const anonymous = await connectedUser(srv.server, mintToken({ sub: uniqueId('c'), role: 'customer' }), { transports: ['websocket'] });
    assert.equal(anonymous.user.name, null);
  });

  const roleCases = [
    ['a roles array takes the highest role', { roles: ['customer', 'agent'] }, 'agent'],
    ['a roles array with admin makes an admin', { roles: ['agent', 'admin', 'customer'] }, 'admin'],
    ['role names match case-insensitively', { role: 'AGENT' }, 'agent'],
    ['roles array names match case-insensitively', { roles: ['Admin'] }, 'admin'],
    ['unknown names in a roles array are ignored', { roles: ['superuser', 'agent', 'root'] }, 'agent'],
    ['an unknown role makes a customer', { role: 'superhero' }, 'customer'],
    ['a roles array of unknown names makes a customer', { roles: ['superhero'] }, 'customer'],
    ['no role claim at all makes a customer', {}, 'customer'],
    ['role and roles together: the highest wins', { role: 'customer', roles: ['admin'] }, 'admin'],
  ];
  for (const [sentence, roleClaims, expected] of roleCases) {
    it(`${sentence} (${JSON.stringify(roleClaims)} => ${expected})`, async () => {
      const { socket, user } = await connectedUser(srv.server, mintToken({ sub: uniqueId('r'), ...roleClaims }), { transports: ['websocket'] });
      assert.equal(user.role, expected);
      if (expected === 'customer') {
        await expectNo(socket, 'stats-update', 300);
      } else {
        await waitFor(socket, 'stats-update');
      }
    });
  }

  it('updates what it remembers of a user from the claims of each connection', async () => {
    const sub = uniqueId('agent');
    const first = await connectedUser(srv.server, mintToken({ sub, role: 'agent', name: 'Old Name' }), { transports: ['websocket'] });
    first.socket.disconnect();
    const second = await connectedUser(srv.server, mintToken({ sub, role: 'agent', name: 'New Name' }), { transports: ['websocket'] });
    assert.equal(second.user.name, 'New Name');
    const session = await openSession(srv.server, makeUser('customer'));
    const admin = makeUser('admin');
    const res = await api(srv.server, admin, 'POST', `/api/chat/sessions/${session.id}/assign`, { body: { agentId: sub } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.agent, { id: sub, role: 'agent', name: 'New Name' });
  });

  it('puts a user without a tenant claim in the default tenant', async () => {
    const customer = makeUser('customer', { tenant: 'default' });
    const session = await openSession(srv.server, customer);
    const agent = makeUser('agent'); // no tenant claim
    const socket = await connect(srv.server, agent.token, { transports: ['websocket'] });
    const joined = await ok(socket, 'join-session', { sessionId: session.id });
    assert.equal(joined.session.id, session.id);
  });
});

describe('a token that expires while connected', () => {
  it('does not drop the socket, and the next connection with it is refused', async (t) => {
    const server = await spawnServerFor(t, { args: ['--jwt-leeway-seconds', '0'] });
    const customer = { sub: uniqueId('c'), role: 'customer' };
    const token = mintToken({ ...customer, exp: now() + 2 });
    const socket = await connect(server, token, { transports: ['websocket'] });
    await waitFor(socket, 'connected');
    const session = await openSession(server, mintToken(customer));
    // Waiting for the token's expiry is the point of this test, not a synchronisation.
    await new Promise((resolve) => setTimeout(resolve, 3200));
    assert.equal(socket.connected, true);
    const ack = await emitAck(socket, 'join-session', { sessionId: session.id });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await expectRefused(server, token, 'expired_token', { transports: ['websocket'] });
  });
});

describe('issuer and audience when configured', () => {
  const srv = useServer({ args: ['--jwt-issuer', 'https://id.example', '--jwt-audience', 'switchboard'] });
  const base = () => ({ sub: uniqueId('c'), role: 'customer' });

  it('accepts a token with the configured iss and aud', async () => {
    const claims = base();
    const { user } = await connectedUser(srv.server, mintToken({ ...claims, iss: 'https://id.example', aud: 'switchboard' }), { transports: ['websocket'] });
    assert.equal(user.id, claims.sub);
  });

  it('refuses a token without iss and aud with "unauthorized: invalid_token"', async () => {
    await expectRefused(srv.server, mintToken(base()), 'invalid_token', { transports: ['websocket'] });
  });

  it('refuses a token without iss with "unauthorized: invalid_token"', async () => {
    await expectRefused(srv.server, mintToken({ ...base(), aud: 'switchboard' }), 'invalid_token', { transports: ['websocket'] });
  });

  it('refuses a token without aud with "unauthorized: invalid_token"', async () => {
    await expectRefused(srv.server, mintToken({ ...base(), iss: 'https://id.example' }), 'invalid_token', { transports: ['websocket'] });
  });

  it('refuses a token with another iss with "unauthorized: invalid_token"', async () => {
    await expectRefused(srv.server, mintToken({ ...base(), iss: 'https://evil.example', aud: 'switchboard' }), 'invalid_token', { transports: ['websocket'] });
  });

  it('refuses a token with another aud with "unauthorized: invalid_token"', async () => {
    await expectRefused(srv.server, mintToken({ ...base(), iss: 'https://id.example', aud: 'other' }), 'invalid_token', { transports: ['websocket'] });
  });
});

describe('public-key algorithms', () => {
  for (const [alg, keyOptions, extraArgs] of [
    ['RS256', ['rsa', { modulusLength: 2048 }], []],
    ['ES256', ['ec', { namedCurve: 'P-256' }], []],
    ['RS256', ['rsa', { modulusLength: 2048 }], ['--jwt-algorithm', 'RS256']],
    ['ES256', ['ec', { namedCurve: 'P-256' }], ['--jwt-algorithm', 'ES256']],
  ]) {
    const how = extraArgs.length ? `with ${extraArgs.join(' ')}` : 'picked from the key type';
    it(`accepts ${alg} tokens with --jwt-public-key-file (${how}) and refuses HS256 ones`, async (t) => {
      const { server, publicKey, privateKey } = await spawnKeyServerFor(t, keyOptions, extraArgs);
      const claims = { sub: uniqueId('k'), role: 'agent' };
      const { user } = await connectedUser(server, mintToken(claims, privateKey, { algorithm: alg }), { transports: ['websocket'] });
      assert.equal(user.role, 'agent');
      await expectRefused(server, mintToken(claims, JWT_SECRET), 'invalid_token', { transports: ['websocket'] });
      // Key confusion: the public key's PEM text used as an HMAC secret.
      await expectRefused(server, hmacToken(claims, publicKey), 'invalid_token', { transports: ['websocket'] });
      // Not in development mode: a public key is configured.
      const dev = await api(server, null, 'POST', '/api/dev/token', { body: { sub: 'x', role: 'admin' } });
      assert.ok([404, 405].includes(dev.status), `POST /api/dev/token outside development mode: ${dev.status} ${dev.text}`);
    });
  }
});
