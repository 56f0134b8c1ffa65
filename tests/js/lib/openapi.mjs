// Checks REST answers against the server's own OpenAPI 3.1 document (GET /api/openapi.json):
// the path and method are documented, the status is one of the operation's, and a JSON body
// matches that response's schema (JSON Schema 2020-12, with Ajv's 2020 draft and ajv-formats).
//
// lib/rest.mjs calls checkResponse() for every answer of api(), so every test file that uses it
// checks the document as a side effect. VALIDATE_OPENAPI=0 turns it off.

import assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/** On unless VALIDATE_OPENAPI is 0, false, no or off. */
export const VALIDATE_OPENAPI = !['0', 'false', 'no', 'off'].includes(String(process.env.VALIDATE_OPENAPI ?? '1').toLowerCase());

/** Where the document's component schemas live for Ajv. */
const BASE = 'https://switchboard.invalid/openapi.json';

/** server.url -> Promise<Checker>: each server's document is fetched once. */
const checkers = new Map();

/** The document a server serves, fetched once per server. */
export async function openapiDocument(server) {
  return (await checkerFor(server)).doc;
}

function checkerFor(server) {
  let checker = checkers.get(server.url);
  if (!checker) {
    checker = fetch(`${server.url}/api/openapi.json`).then(async (response) => {
      assert.equal(response.status, 200, `GET /api/openapi.json answered ${response.status}`);
      return new Checker(await response.json());
    });
    checkers.set(server.url, checker);
    checker.catch(() => checkers.delete(server.url));
  }
  return checker;
}

/** `#/components/schemas/X` -> BASE#/$defs/X, everywhere in `value` (a copy). */
function rebase(value) {
  if (Array.isArray(value)) return value.map(rebase);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [key, v] of Object.entries(value)) {
      out[key] = key === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
        ? `${BASE}#/$defs/${v.slice('#/components/schemas/'.length)}`
        : rebase(v);
    }
    return out;
  }
  return value;
}

function mediaType(contentType) {
  return String(contentType ?? '').split(';')[0].trim().toLowerCase();
}

class Checker {
  constructor(doc) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: BASE, $defs: rebase(doc.components?.schemas ?? {}) });
    this.validators = new Map();
    // Templates with fewer parameters first: a literal segment wins over `{id}`.
    this.templates = Object.keys(doc.paths ?? {})
      .map((template) => ({
        template,
        params: (template.match(/\{[^}]+\}/g) ?? []).length,
        regex: new RegExp(`^${template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+')}$`),
      }))
      .sort((a, b) => a.params - b.params);
  }

  template(path) {
    return this.templates.find(({ regex }) => regex.test(path))?.template;
  }

  validator(key, schema) {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(rebase(schema));
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** Throws an AssertionError saying what does not match. */
  check(method, rawPath, res) {
    const path = rawPath.split(/[?#]/)[0];
    const what = `OpenAPI: ${method} ${path} answered ${res.status}`;
    const json = /[/+]json$/.test(mediaType(res.headers.get('content-type')));
    const template = this.template(path);
    const operation = template && this.doc.paths[template][method.toLowerCase()];
    if (!operation) {
      // What the server answers for a route it does not have (405 for another method of a
      // route; 404 `no such route` under /api/ and /ws/, an empty 404 elsewhere) is the answer
      // the document implies for what it does not list.
      const noSuchRoute = res.status === 405 || (res.status === 404
        && (!json || (res.body?.error?.code === 'not_found' && res.body.error.message === 'no such route')));
      if (noSuchRoute) return;
      assert.fail(`${what}: ${template ? `${method} is not documented for ${template}` : 'the path is not documented'} in /api/openapi.json`);
    }
    const responses = operation.responses ?? {};
    const response = responses[String(res.status)] ?? responses[`${String(res.status)[0]}XX`] ?? responses.default;
    assert.ok(response, `${what}: status ${res.status} is not documented for ${method.toLowerCase()} ${template} (documented: ${Object.keys(responses).join(', ')}); body: ${res.text.slice(0, 300)}`);
    const content = response.content;
    if (!content || method === 'HEAD') return;
    const type = mediaType(res.headers.get('content-type'));
    const documentedType = [type, `${type.split('/')[0]}/*`, '*/*'].find((t) => content[t]);
    assert.ok(documentedType, `${what}: content type ${type || '(none)'} is not documented (documented: ${Object.keys(content).join(', ')})`);
    const schema = content[documentedType].schema;
    if (!schema || !json) return;
    assert.ok(res.body !== undefined, `${what}: the body is not JSON: ${res.text.slice(0, 300)}`);
    const key = `${method.toLowerCase()} ${template} ${res.status} ${documentedType}`;
    const validate = this.validator(key, schema);
    if (!validate(res.body)) {
      assert.fail(`${what}: the body does not match the document (${key}): ${this.ajv.errorsText(validate.errors, { separator: '; ' })}\nbody: ${res.text.slice(0, 800)}`);
    }
  }
}

/**
 * Checks one answer of `server` against its document: `res` is api()'s { status, body, text, headers }.
 * Resolves when it matches; rejects with an AssertionError saying what does not.
 */
export async function checkResponse(server, method, path, res) {
  const checker = await checkerFor(server);
  checker.check(method.toUpperCase(), path, res);
}
