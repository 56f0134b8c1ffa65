// The admin REST calls of the integrations page (PROTOCOL §9, v1.3): API
// keys, webhook endpoints and their deliveries. Errors come back as
// ChatError with the server's code (a v1.2 server: `not_found`).

import type {
  ApiKey,
  CreatedApiKey,
  CreatedWebhook,
  Webhook,
  WebhookBody,
  WebhookDelivery,
} from '../chat/integrations';
import { apiRequest } from './api';

const webhookPath = (id: string) => `/api/webhooks/${encodeURIComponent(id)}`;

export const integrationsApi = {
  /** Newest first. */
  listKeys: (token: string, baseUrl?: string) => apiRequest<{ items: ApiKey[] }>('/api/api-keys', { token, baseUrl }),
  /** 201; the only answer that carries `key`. */
  createKey: (token: string, name: string, baseUrl?: string) =>
    apiRequest<CreatedApiKey>('/api/api-keys', { token, method: 'POST', body: { name }, baseUrl }),
  /** 204; refused at once everywhere. */
  revokeKey: (token: string, id: string, baseUrl?: string) =>
    apiRequest<null>(`/api/api-keys/${encodeURIComponent(id)}`, { token, method: 'DELETE', baseUrl }),

  listWebhooks: (token: string, baseUrl?: string) => apiRequest<{ items: Webhook[] }>('/api/webhooks', { token, baseUrl }),
  /** 201; the only answer that carries `secret`. A private address is `invalid_payload` (unless the server allows it). */
  createWebhook: (token: string, body: WebhookBody, baseUrl?: string) =>
    apiRequest<CreatedWebhook>('/api/webhooks', { token, method: 'POST', body, baseUrl }),
  /** 204; its pending deliveries go with it. */
  removeWebhook: (token: string, id: string, baseUrl?: string) =>
    apiRequest<null>(webhookPath(id), { token, method: 'DELETE', baseUrl }),

  /** Newest first. */
  listDeliveries: (token: string, webhookId: string, limit: number, baseUrl?: string) =>
    apiRequest<{ items: WebhookDelivery[] }>(`${webhookPath(webhookId)}/deliveries?limit=${limit}`, { token, baseUrl }),
  /** A `failed` delivery pending again, next attempt now; anything else is `conflict`. */
  retryDelivery: (token: string, webhookId: string, deliveryId: string, baseUrl?: string) =>
    apiRequest<WebhookDelivery>(`${webhookPath(webhookId)}/deliveries/${encodeURIComponent(deliveryId)}/retry`, {
      token,
      method: 'POST',
      baseUrl,
    }),
};
