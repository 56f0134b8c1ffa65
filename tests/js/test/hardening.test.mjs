// Issue 12 (hardening): each attack of the security review, tried again
// through real clients and raw sockets, and refused. One describe per item.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

import { JWT_SECRET, freshDatabase, serverBinary, spawnServer, spawnServerFor, useServer } from '../lib/server.mjs';
import { connect, connectError, hmacToken, makeUser, uniqueId } from '../lib/clients.mjs';
import { httpRequest } from '../lib/attack.mjs';
import { api, expectRestError, expectStatus } from '../lib/rest.mjs';

const now = () => Math.floor(Date.now() / 1000);

/** Starts the server with `env`/`args` and expects it to exit with an error that matches `pattern`. */
async function expectRefusedStart({ env = {}, args = [], jwtSecret = null }, pattern) {
  await assert.rejects(spawnServer({ env, args, jwtSecret }), (err) => {
    assert.match(err.message, /server exited before it was ready \(code [1-9]/);
    assert.match(err.message, pattern);
    return true;
  });
}

/**
 * Runs the binary as is, with none of the harness's flags (no --host), until
 * it prints its listening line; resolves with { host, port, output, stop }.
 */
function spawnBare(t, { args = [], env = {} } = {}) {
  return freshDatabase().then((database) => new Promise((resolve, reject) => {
    const childEnv = { ...process.env, NO_COLOR: '1', ...env };
    for (const key of ['HOST', 'PORT', 'JWT_SECRET', 'JWT_PUBLIC_KEY_FILE', 'CORS_ORIGINS', 'SWITCHBOARD_DEV']) {
      if (!(key in env)) delete childEnv[key];
    }
    const child = spawn(serverBinary(), ['--port', '0', '--database-url', database.url, ...args], {
      env: childEnv, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise((res) => child.on('exit', res));
    t.after(async () => {
      child.kill('SIGTERM');
      await exited;
      await database.drop();
    });
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 20_000);
    const onData = (chunk) => {
      output += chunk;
      const m = output.match(/listening on http:\/\/([0-9a-fA-F.:[\]]+):(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ host: m[1], port: Number(m[2]), output: () => output });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${output}`)); });
  }));
}

describe('1. a short HS256 secret stops the server', () => {
  for (const [label, secret] of [['empty', ''], ['whitespace', ' '.repeat(40)], ['one byte', 'a'], ['31 bytes', 'x'.repeat(31)]]) {
    it(`refuses to start with a ${label} JWT_SECRET and says how to make one`, async () => {
      await expectRefusedStart({ env: { JWT_SECRET: secret } }, /openssl rand -base64 48/);
    });
  }

  it('refuses a short secret even with --dev', async () => {
    await expectRefusedStart({ env: { JWT_SECRET: 'short' }, args: ['--dev'] }, /at least 32 bytes/);
  });

  it('refuses JWT_PUBLIC_KEY_FILE with JWT_ALGORITHM=HS256 at start', async () => {
    await expectRefusedStart(
      { env: { JWT_PUBLIC_KEY_FILE: '/dev/null', JWT_ALGORITHM: 'HS256' } },
      /JWT_PUBLIC_KEY_FILE is set with JWT_ALGORITHM=HS256/,
    );
  });

  it('with REQUIRE_JWT_KEY (the container image), refuses to start without a key unless --dev', async (t) => {
    await expectRefusedStart({ env: { REQUIRE_JWT_KEY: '1' } }, /requires one[\s\S]*--dev/);
    const server = await spawnServerFor(t, { jwtSecret: null, env: { REQUIRE_JWT_KEY: '1' }, args: ['--dev'] });
    await expectStatus(api(server, null, 'POST', '/api/dev/token', { body: { sub: 'a', role: 'agent' } }), 200);
  });
});

describe('2. development mode stays on loopback', () => {
  it('binds 127.0.0.1 without HOST, and says loudly what it is', async (t) => {
    const bare = await spawnBare(t);
    assert.equal(bare.host, '127.0.0.1');
    assert.match(bare.output(), /DEVELOPMENT MODE/);
    assert.match(bare.output(), /anyone who can reach 127\.0\.0\.1:\d+ can mint any token/);
  });

  it('binds where HOST says when it is set explicitly', async (t) => {
    const bare = await spawnBare(t, { env: { HOST: '0.0.0.0' } });
    assert.equal(bare.host, '0.0.0.0');
  });

  describe('CORS without CORS_ORIGINS', () => {
    const srv = useServer({ jwtSecret: null });

    it('allows loopback origins and no other, for preflight and polling', async () => {
      const preflight = (origin) => httpRequest(`${srv.server.url}/api/dev/token`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3001', 'http://[::1]:8080']) {
        const res = await preflight(origin);
        assert.equal(res.headers['access-control-allow-origin'], origin, origin);
      }
      for (const origin of ['https://evil.example', 'http://localhost.evil.example', 'null']) {
        const res = await preflight(origin);
        assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
        const polling = await httpRequest(`${srv.server.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
        assert.equal(polling.headers['access-control-allow-origin'], undefined, `polling from ${origin}`);
      }
    });
  });
});

describe('11. JWT details', () => {
  const srv = useServer();

  it('refuses a token with a crit header on the socket and on REST', async () => {
    const user = makeUser('agent');
    const token = hmacToken({ sub: user.sub, role: 'agent', exp: now() + 600 }, JWT_SECRET);
    const [, body, ] = token.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', crit: ['x-unknown'], 'x-unknown': 1 })).toString('base64url');
    const { createHmac } = await import('node:crypto');
    const signature = createHmac('sha256', JWT_SECRET).update(`${header}.${body}`).digest('base64url');
    const critical = `${header}.${body}.${signature}`;
    const err = await connectError(srv.server, critical, { transports: ['websocket'] });
    assert.equal(err.message, 'unauthorized: invalid_token');
    await expectRestError(api(srv.server, null, 'GET', '/api/chat/stats', { headers: { authorization: `Bearer ${critical}` } }),
      401, 'unauthorized');
    // The same token without crit is fine: the refusal is for crit alone.
    await expectStatus(api(srv.server, null, 'GET', '/api/chat/stats', { headers: { authorization: `Bearer ${token}` } }), 200);
  });

  it('reads "bearer x" with a lower-case scheme on REST and on the socket alike', async () => {
    const user = makeUser('agent');
    await expectStatus(api(srv.server, null, 'GET', '/api/chat/stats', { headers: { authorization: `bearer ${user.token}` } }), 200);
    const socket = await connect(srv.server, undefined, { auth: {}, extraHeaders: { authorization: `bearer ${user.token}` }, transports: ['websocket'] });
    assert.ok(socket.connected);
  });

  it('refuses a bare token without a scheme on REST and on the socket alike', async () => {
    const user = makeUser('agent');
    await expectRestError(api(srv.server, null, 'GET', '/api/chat/stats', { headers: { authorization: user.token } }),
      401, 'unauthorized');
    const err = await connectError(srv.server, undefined, { auth: {}, extraHeaders: { authorization: user.token }, transports: ['websocket'] });
    assert.equal(err.message, 'unauthorized: invalid_token');
  });

  it('still strips a leading "Bearer " from auth.token (PROTOCOL §2)', async () => {
    const user = makeUser('customer', { tenant: uniqueId('t') });
    const socket = await connect(srv.server, `Bearer ${user.token}`, { transports: ['websocket'] });
    assert.ok(socket.connected);
  });
});
