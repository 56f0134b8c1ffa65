// The integrations REST helpers against the real server (no browser): the
// shapes the page reads, and refusals landing on the field they are about.
// This server runs without --webhook-allow-private-networks, so a loopback
// or private URL is refused as it would be in production.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookErrorField } from '../src/chat/integrations';
import { ChatError } from '../src/chat/protocol';
import { integrationsApi } from '../src/lib/integrations';
import { startServer, type SwitchboardServer } from '../test-support/switchboardServer.js';

let server: SwitchboardServer;
let admin: string;

beforeAll(async () => {
  server = await startServer();
  admin = await server.token({ sub: 'admin-ada', role: 'admin', name: 'Ada Admin', tenant: 'integrations-api' });
});

afterAll(async () => {
  await server?.stop();
});

async function refusal(promise: Promise<unknown>): Promise<ChatError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ChatError);
    return err as ChatError;
  }
  throw new Error('expected a refusal');
}

describe('the integrations API as the page uses it', () => {
  it('creates a key shown once, then lists it without the key', async () => {
    const created = await integrationsApi.createKey(admin, 'CRM sync', server.url);
    expect(created.key).toMatch(/^sbk_[A-Za-z0-9_-]{43,}$/);
    const { items } = await integrationsApi.listKeys(admin, server.url);
    expect(items[0]).toEqual({ id: created.id, name: 'CRM sync', createdAt: created.createdAt, lastUsedAt: null });
    await integrationsApi.revokeKey(admin, created.id, server.url);
    expect((await integrationsApi.listKeys(admin, server.url)).items).toEqual([]);
  });

  it('refuses a loopback or private URL on the url field', async () => {
    for (const url of ['http://127.0.0.1:9/hooks', 'http://10.0.0.7/hooks', 'http://[::1]/hooks']) {
      const err = await refusal(integrationsApi.createWebhook(admin, { url, events: ['session.created'] }, server.url));
      expect(err.code).toBe('invalid_payload');
      expect(webhookErrorField(err)).toBe('url');
    }
    expect((await integrationsApi.listWebhooks(admin, server.url)).items).toEqual([]);
  });

  it('puts an unknown event type on the events field', async () => {
    const body = { url: 'https://example.com/hooks', events: ['chat.created'] } as unknown as Parameters<typeof integrationsApi.createWebhook>[1];
    const err = await refusal(integrationsApi.createWebhook(admin, body, server.url));
    expect(webhookErrorField(err)).toBe('events');
  });

  it('is for admins only', async () => {
    const agent = await server.token({ sub: 'agent-bo', role: 'agent', name: 'Bo Agent', tenant: 'integrations-api' });
    expect((await refusal(integrationsApi.listKeys(agent, server.url))).code).toBe('forbidden');
    expect((await refusal(integrationsApi.listWebhooks(agent, server.url))).code).toBe('forbidden');
  });

  it('says not_found for the deliveries of an unknown endpoint', async () => {
    expect((await refusal(integrationsApi.listDeliveries(admin, 'nope', 10, server.url))).code).toBe('not_found');
  });
});
