// The REST half of docs/protocol.md §6: a thin fetch wrapper that turns the
// `{ error: { code, message } }` bodies into ChatError, and one function per
// endpoint the pages use.

import { websocketConfig } from '../websocket.config';
import {
  ChatError,
  type AgentState,
  type Availability,
  type ErrorBody,
  type Page,
  type Role,
  type ServiceStatus,
  type Session,
  type Stats,
  type TenantSettings,
} from '../chat/protocol';
import type { Report, ReportBucketSize } from '../chat/protocol';

type RequestOptions = { token?: string | null; method?: string; body?: unknown; baseUrl?: string };

export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { token, method = 'GET', body, baseUrl = websocketConfig.serverUrl } = options;
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ChatError('network', `Cannot reach the server (${(err as Error).message})`);
  }
  const text = await response.text();
  const parsed: unknown = text ? safeJson(text) : null;
  if (!response.ok) {
    const error = (parsed as { error?: ErrorBody } | null)?.error;
    throw new ChatError(error?.code ?? 'internal', error?.message ?? `HTTP ${response.status}`);
  }
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export type DevTokenRequest = { sub: string; role: Role; name?: string; tenant?: string };

export const api = {
  /** Development mode only: a signed token for the demo pages. */
  devToken: (req: DevTokenRequest, baseUrl?: string) =>
    apiRequest<{ token: string }>('/api/dev/token', { method: 'POST', body: req, baseUrl }),

  /** Opens a pending session, or returns the customer's open one. */
  createSession: (token: string, body: { subject?: string; message?: string }, baseUrl?: string) =>
    apiRequest<Session>('/api/chat/sessions', { token, method: 'POST', body, baseUrl }),

  listSessions: (token: string, query: { status?: Session['status']; limit?: number } = {}, baseUrl?: string) => {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.limit) params.set('limit', String(query.limit));
    const qs = params.toString();
    return apiRequest<Page<Session>>(`/api/chat/sessions${qs ? `?${qs}` : ''}`, { token, baseUrl });
  },

  getSession: (token: string, id: string, baseUrl?: string) =>
    apiRequest<Session>(`/api/chat/sessions/${encodeURIComponent(id)}`, { token, baseUrl }),

  getStats: (token: string, baseUrl?: string) => apiRequest<Stats>('/api/chat/stats', { token, baseUrl }),

  /** v1.3 (§10), staff: figures by UTC hour or day; without from/to the server's default range (24 hours, 30 days). */
  getReport: (token: string, query: { bucket: ReportBucketSize; from?: string; to?: string }, baseUrl?: string) => {
    const params = new URLSearchParams({ bucket: query.bucket });
    if (query.from) params.set('from', query.from);
    if (query.to) params.set('to', query.to);
    return apiRequest<Report>(`/api/chat/reports?${params}`, { token, baseUrl });
  },

  // ---- v1.3 routing (§6, §7); a v1.2 server answers 404 `not_found` --------

  /** The tenant's ServiceStatus (business hours, available agents, offline message). */
  getService: (token: string, baseUrl?: string) => apiRequest<ServiceStatus>('/api/chat/service', { token, baseUrl }),

  /** Staff: the tenant's agents and admins, by name. */
  listAgents: (token: string, baseUrl?: string) => apiRequest<{ items: AgentState[] }>('/api/agents', { token, baseUrl }),

  /** An agent: their own availability; an admin: anyone's availability and maxChats. */
  updateAgent: (token: string, id: string, body: { availability?: Availability; maxChats?: number }, baseUrl?: string) =>
    apiRequest<AgentState>(`/api/agents/${encodeURIComponent(id)}`, { token, method: 'PATCH', body, baseUrl }),

  getSettings: (token: string, baseUrl?: string) => apiRequest<TenantSettings>('/api/settings', { token, baseUrl }),

  /** Admin: any subset of the settings; bad values are `invalid_payload` and change nothing. */
  updateSettings: (token: string, body: Partial<TenantSettings>, baseUrl?: string) =>
    apiRequest<TenantSettings>('/api/settings', { token, method: 'PATCH', body, baseUrl }),
};
