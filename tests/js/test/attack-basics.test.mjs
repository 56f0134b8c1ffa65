// Issue 6, security basics: CORS only for configured origins outside
// development mode, on REST and on the Socket.IO polling handshake; the dev
// token endpoint absent outside development mode; secrets never in the
// output (JWT secret, database and Redis passwords); security headers on
// every kind of HTTP response.
//
// rest.test.mjs proves the REST preflight rules, /api/dev/token's absence
// with a secret and the JWT secret's absence from the logs at the default
// level; auth.test.mjs its absence with a public key.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { connect, makeUser, ok } from '../lib/clients.mjs';
import { api, openSession } from '../lib/rest.mjs';
import { JWT_SECRET, serverBinary, spawnServerFor, useServer } from '../lib/server.mjs';
import { eioUrl, httpRequest, pollingHandshake, pollingPost } from '../lib/attack.mjs';

const EVIL = 'https://evil.example';

/** The Socket.IO polling handshake and its preflight, with an Origin. */
async function handshakeWithOrigin(server, origin) {
  const get = await httpRequest(eioUrl(server, 'polling'), { headers: { origin } });
  const preflight = await httpRequest(eioUrl(server, 'polling'), {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  return { get, preflight };
}

const allowOrigin = (res) => res.headers['access-control-allow-origin'] ?? null;

describe('CORS on the Socket.IO handshake', () => {
  it('sends no CORS headers outside development mode without CORS_ORIGINS', async (t) => {
    const server = await spawnServerFor(t);
    const { get, preflight } = await handshakeWithOrigin(server, EVIL);
    assert.equal(get.status, 200, 'the handshake itself works (CORS is the browser\'s check)');
    assert.equal(allowOrigin(get), null, `GET handshake: ${JSON.stringify(get.headers)}`);
    assert.equal(allowOrigin(preflight), null, `preflight: ${JSON.stringify(preflight.headers)}`);
    assert.equal(preflight.headers['access-control-allow-credentials'], undefined);
  });

  it('allows exactly the configured origins', async (t) => {
    const server = await spawnServerFor(t, { args: ['--cors-origins', 'https://app.example,https://admin.example'] });
    for (const origin of ['https://app.example', 'https://admin.example']) {
      const { get, preflight } = await handshakeWithOrigin(server, origin);
      assert.equal(allowOrigin(get), origin);
      assert.equal(allowOrigin(preflight), origin);
    }
    for (const origin of [EVIL, 'https://app.example.evil.example', 'http://app.example', 'https://APP.example.', 'null']) {
      const { get, preflight } = await handshakeWithOrigin(server, origin);
      assert.equal(allowOrigin(get), null, `${origin} was allowed on the handshake`);
      assert.equal(allowOrigin(preflight), null, `${origin} was allowed on the preflight`);
    }
    // REST errors carry the same rule.
    const res = await httpRequest(`${server.url}/api/chat/sessions`, { headers: { origin: EVIL } });
    assert.equal(res.status, 401);
    assert.equal(allowOrigin(res), null);
  });

  it('allows any origin in development mode without CORS_ORIGINS', async (t) => {
    const server = await spawnServerFor(t, { jwtSecret: null });
    const { get } = await handshakeWithOrigin(server, 'http://localhost:5173');
    assert.ok(['http://localhost:5173', '*'].includes(allowOrigin(get)), JSON.stringify(get.headers));
  });
});

describe('the development token endpoint outside development mode', () => {
  const srv = useServer();

  it('does not exist by any method or path variant, and mints nothing', async () => {
    for (const [method, path] of [['POST', '/api/dev/token'], ['GET', '/api/dev/token'], ['POST', '/api/dev/token/'], ['POST', '/API/DEV/TOKEN'], ['POST', '/api/dev/../dev/token']]) {
      const res = await api(srv.server, null, method, path, { body: method === 'POST' ? { sub: 'mallory', role: 'admin' } : undefined });
      assert.ok([404, 405].includes(res.status) || (res.status === 200 && !/eyJ/.test(res.text) && /<html/i.test(res.text)),
        `${method} ${path}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.ok(!/eyJ[\w-]+\.eyJ/.test(res.text), `${method} ${path} minted a token`);
    }
  });
});

/** Runs the server binary with `args` until it exits (or 20 s); resolves with its whole output. */
function runToExit(args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(serverBinary(), args, { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

describe('secrets in the output', () => {
  it('never prints the database password of a PostgreSQL URL it cannot reach', async () => {
    const cases = [
      ['flag', ['--database-url', 'postgres://u:hunter2@127.0.0.1:1/x'], {}],
      ['environment', [], { DATABASE_URL: 'postgres://u:hunter2@127.0.0.1:1/x' }],
      ['percent-encoded', ['--database-url', 'postgresql://u:hunter2%21@127.0.0.1:1/x?sslmode=disable'], {}],
    ];
    const runs = await Promise.all(cases.map(([, args, env]) => runToExit(['--host', '127.0.0.1', '--port', '0', '--jwt-secret', JWT_SECRET, ...args], { RUST_LOG: 'trace', ...env })));
    for (const [i, { code, output }] of runs.entries()) {
      const label = cases[i][0];
      assert.notEqual(code, 0, `${label}: the server started without its database?\n${output.slice(0, 1000)}`);
      assert.match(output, /database/i, `${label}: the error does not say what failed:\n${output.slice(0, 1000)}`);
      assert.ok(!output.includes('hunter2'), `${label}: the password appears in the output:\n${output.split('\n').filter((l) => l.includes('hunter2')).join('\n').slice(0, 1000)}`);
    }
  });

  it('never prints a Redis password it cannot use', async () => {
    const { output } = await runToExit(['--host', '127.0.0.1', '--port', '0', '--jwt-secret', JWT_SECRET, '--database-url', 'sqlite::memory:',
      '--redis-url', 'redis://:hunter3@127.0.0.1:1/?protocol=resp3'], { RUST_LOG: 'trace' });
    assert.ok(!output.includes('hunter3'), `the Redis password appears in the output:\n${output.split('\n').filter((l) => l.includes('hunter3')).join('\n').slice(0, 1000)}`);
  });

  it('never prints the JWT secret, even at trace level with traffic and refused tokens', async (t) => {
    const server = await spawnServerFor(t, { env: { RUST_LOG: 'trace' } });
    const customer = makeUser('customer');
    const session = await openSession(server, customer, { message: 'hello' });
    const socket = await connect(server, customer.token, { transports: ['polling'] });
    await ok(socket, 'send-message', { sessionId: session.id, content: 'traced' });
    await api(server, 'garbage', 'GET', '/api/chat/sessions');
    await api(server, makeUser('agent', { secret: 'a-different-secret-entirely-000' }), 'GET', '/api/chat/stats');
    const help = await runToExit(['--help'], { JWT_SECRET });
    assert.ok(!server.logs().includes(JWT_SECRET), 'the JWT secret appears in the server output at trace level');
    assert.ok(!help.output.includes(JWT_SECRET), 'the JWT secret appears in --help');
  });
});

describe('security headers', () => {
  const srv = useServer();

  it('are on every kind of HTTP response: REST, errors, health, metrics, static files and the Socket.IO handshake', async () => {
    const customer = makeUser('customer');
    const sid = await pollingHandshake(srv.server);
    const connectPost = await pollingPost(srv.server, sid, `40/chat,${JSON.stringify({ token: customer.token })}`);
    const responses = {
      'REST 200': await httpRequest(`${srv.server.url}/api/chat/sessions`, { headers: { authorization: `Bearer ${customer.token}` } }),
      'REST 401': await httpRequest(`${srv.server.url}/api/chat/sessions`),
      'REST 404': await httpRequest(`${srv.server.url}/api/nope`),
      'REST 400': await httpRequest(`${srv.server.url}/api/chat/sessions`, { method: 'POST', headers: { authorization: `Bearer ${customer.token}`, 'content-type': 'application/json' }, body: '{"subject":' }),
      health: await httpRequest(`${srv.server.url}/health`),
      metrics: await httpRequest(`${srv.server.url}/metrics`),
      'static /': await httpRequest(`${srv.server.url}/`),
      'polling handshake': await httpRequest(eioUrl(srv.server, 'polling')),
      'polling POST': connectPost,
      'polling GET': await httpRequest(eioUrl(srv.server, 'polling', `&sid=${sid}`)),
      'polling bad sid': await httpRequest(eioUrl(srv.server, 'polling', '&sid=nope')),
    };
    for (const [what, res] of Object.entries(responses)) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff', `${what} (${res.status}): X-Content-Type-Options`);
      assert.ok(['DENY', 'SAMEORIGIN'].includes(res.headers['x-frame-options']), `${what} (${res.status}): X-Frame-Options ${res.headers['x-frame-options']}`);
      assert.ok(res.headers['referrer-policy'], `${what} (${res.status}): Referrer-Policy`);
      assert.equal(res.headers.server, undefined, `${what}: a Server header reveals ${res.headers.server}`);
      assert.ok(!/panicked|at src\/|sea_orm|sqlx/i.test(res.text), `${what}: internals in the body: ${res.text.slice(0, 300)}`);
    }
    for (const what of ['REST 200', 'REST 401', 'REST 404', 'REST 400', 'health']) {
      assert.match(responses[what].headers['content-type'] ?? '', /^application\/json/, `${what}: content-type`);
    }
  });
});
