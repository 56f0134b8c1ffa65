// GET /api/openapi.json: a valid OpenAPI 3.1 document (checked with
// @seriousme/openapi-schema-validator against the specification's own schema), served without a
// token, covering the REST API of docs/protocol.md §6 with both security schemes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { useServer, spawnServerFor } from '../lib/server.mjs';
import { checkResponse } from '../lib/openapi.mjs';
import { api, openSession } from '../lib/rest.mjs';
import { makeUser } from '../lib/clients.mjs';

async function fetchDocument(server) {
  const response = await fetch(`${server.url}/api/openapi.json`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return response.json();
}

async function assertValid(doc) {
  const validator = new Validator();
  const result = await validator.validate(doc);
  assert.equal(validator.version, '3.1', `the document should be OpenAPI 3.1, is ${validator.version}`);
  if (!result.valid) assert.fail(`the document is not valid OpenAPI 3.1: ${JSON.stringify(result.errors, null, 2).slice(0, 3000)}`);
}

describe('GET /api/openapi.json', () => {
  const srv = useServer();

  it('is a valid OpenAPI 3.1 document, served without a token', async () => {
    const doc = await fetchDocument(srv.server);
    await assertValid(doc);
  });

  it('documents every REST route of §6, both auth schemes, and the error body', async () => {
    const doc = await fetchDocument(srv.server);
    const operations = [
      'post /api/chat/sessions', 'get /api/chat/sessions', 'get /api/chat/sessions/{id}',
      'get /api/chat/sessions/{id}/messages', 'post /api/chat/sessions/{id}/messages',
      'post /api/chat/sessions/{id}/assign', 'post /api/chat/sessions/{id}/read', 'post /api/chat/sessions/{id}/close',
      'post /api/chat/sessions/{id}/transfer', 'post /api/chat/sessions/{id}/attachments',
      'get /api/attachments/{id}', 'get /api/attachments/{id}/thumbnail',
      'get /api/chat/stats', 'get /api/chat/service', 'get /api/agents', 'patch /api/agents/{id}',
      'get /api/settings', 'patch /api/settings',
      'get /api/chat/sessions/{id}/notes', 'post /api/chat/sessions/{id}/notes', 'post /api/chat/sessions/{id}/rating',
      'get /api/chat/sessions/{id}/transcript', 'get /api/chat/reports',
      'get /api/canned-responses', 'post /api/canned-responses', 'patch /api/canned-responses/{id}', 'delete /api/canned-responses/{id}',
      'get /health', 'get /ws/stats', 'get /metrics', 'get /api/openapi.json',
      'post /api/api-keys', 'get /api/api-keys', 'delete /api/api-keys/{id}',
      'post /api/webhooks', 'get /api/webhooks', 'delete /api/webhooks/{id}', 'get /api/webhooks/{id}/deliveries',
      'post /api/webhooks/{id}/deliveries/{deliveryId}/retry',
      'post /api/server/publish', 'post /api/server/sessions', 'post /api/server/sessions/{id}/messages',
    ];
    for (const op of operations) {
      const [method, path] = op.split(' ');
      assert.ok(doc.paths[path]?.[method], `${op} is documented`);
    }
    assert.equal(doc.paths['/api/dev/token'], undefined, 'no dev token outside development mode');
    const schemes = doc.components.securitySchemes;
    assert.deepEqual([schemes.bearerAuth.type, schemes.bearerAuth.scheme], ['http', 'bearer']);
    assert.deepEqual([schemes.apiKey.type, schemes.apiKey.scheme], ['http', 'bearer']);
    assert.deepEqual(doc.paths['/api/server/publish'].post.security, [{ apiKey: [] }]);
    assert.deepEqual(doc.paths['/api/chat/sessions'].post.security, [{ bearerAuth: [] }]);
    assert.equal(doc.paths['/health'].get.security, undefined, '/health needs no token');
    const error = doc.components.schemas.ErrorResponse;
    assert.deepEqual(error.required, ['error']);
    assert.equal(doc.paths['/api/chat/sessions/{id}'].get.responses['404'].content['application/json'].schema.$ref,
      '#/components/schemas/ErrorResponse');
  });

  it('lib/openapi.mjs refuses answers the document does not describe', async () => {
    const customer = makeUser('customer');
    const session = await openSession(srv.server, customer, { subject: 'checked' });
    const res = await api(srv.server, customer, 'GET', `/api/chat/sessions/${session.id}`);
    await checkResponse(srv.server, 'GET', `/api/chat/sessions/${session.id}`, res);
    const json = new Headers({ 'content-type': 'application/json' });
    const wrong = (body, status = 200) => ({ status, body, text: JSON.stringify(body), headers: json });
    const path = `/api/chat/sessions/${session.id}`;
    await assert.rejects(checkResponse(srv.server, 'GET', path, wrong({ ...session, status: 'open' })), /does not match/);
    await assert.rejects(checkResponse(srv.server, 'GET', path, wrong({ ...session, unreadCount: undefined })), /does not match/);
    await assert.rejects(checkResponse(srv.server, 'GET', path, wrong({ error: { code: 'conflict', message: 'x' } }, 418)), /status 418 is not documented/);
    await assert.rejects(checkResponse(srv.server, 'GET', path, wrong({ error: { code: 'nope', message: 'x' } }, 404)), /does not match/);
    await assert.rejects(checkResponse(srv.server, 'PUT', path, wrong({})), /PUT is not documented/);
    await assert.rejects(checkResponse(srv.server, 'GET', '/api/chat/elsewhere', wrong({})), /path is not documented/);
    // The server's own answer for a route it does not have is not a drift.
    await checkResponse(srv.server, 'GET', '/api/chat/elsewhere', wrong({ error: { code: 'not_found', message: 'no such route' } }, 404));
  });

  it('has the dev token in development mode only, and is valid there too', async (t) => {
    const dev = await spawnServerFor(t, { jwtSecret: null });
    const doc = await fetchDocument(dev);
    assert.ok(doc.paths['/api/dev/token']?.post, 'POST /api/dev/token is documented in development mode');
    await assertValid(doc);
  });
});
