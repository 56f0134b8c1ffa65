// Who this tab is. In development the pages mint demo tokens from
// `POST /api/dev/token`; elsewhere a `?token=` in the URL is used as is.
// The identity (sub and name) lives in sessionStorage: one per tab, and a
// reload keeps it, so a customer reloading the widget finds their chat.

import { api } from './api';
import type { Role } from '../chat/protocol';

export type Identity = { sub: string; name: string; role: Role; tenant?: string };

const storageKey = (role: Role) => `switchboard.identity.${role}`;

let currentToken: string | null = null;

/** The token of this tab's signed-in user, for code that is not handed one. */
export function getAuthToken(): string | null {
  return currentToken;
}

export function setAuthToken(token: string | null): void {
  currentToken = token;
}

export function readUrlToken(search: string = window.location.search): string | null {
  const token = new URLSearchParams(search).get('token');
  return token && token.trim() ? token.trim() : null;
}

/** The `?token=` this page was opened with, read once per page load. */
let urlToken: { token: string | null } | null = null;

/**
 * Reads `?token=` from the address bar once, then removes it from there
 * (history, bookmarks and screenshots must not keep a credential), keeping
 * the rest of the URL. Later calls return the same token.
 */
export function takeUrlToken(): string | null {
  if (urlToken) return urlToken.token;
  const { pathname, search, hash } = window.location;
  urlToken = { token: readUrlToken(search) };
  const params = new URLSearchParams(search);
  if (params.has('token')) {
    params.delete('token');
    const rest = params.toString();
    window.history.replaceState(window.history.state, '', `${pathname}${rest ? `?${rest}` : ''}${hash}`);
  }
  return urlToken.token;
}

export function loadIdentity(role: Role): Identity | null {
  try {
    const raw = window.sessionStorage.getItem(storageKey(role));
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Identity;
    return parsed && typeof parsed.sub === 'string' && typeof parsed.name === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

/** Stored under the page's role (`slot`): an admin signed in on the agent pages is found there again. */
export function saveIdentity(identity: Identity, slot: Role = identity.role): void {
  try {
    window.sessionStorage.setItem(storageKey(slot), JSON.stringify(identity));
  } catch {
    // Private mode or storage disabled: the identity lasts until reload.
  }
}

export function forgetIdentity(role: Role): void {
  try {
    window.sessionStorage.removeItem(storageKey(role));
  } catch {
    // Nothing stored, nothing to forget.
  }
}

/** A readable, unique subject: `customer-ana-k3x9q2`. */
export function makeSubject(role: Role, name: string): string {
  const slug = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 24);
  return `${role}-${slug || 'user'}-${randomId().slice(0, 6)}`;
}

export async function mintDevToken(identity: Identity): Promise<string> {
  const { token } = await api.devToken({
    sub: identity.sub,
    role: identity.role,
    name: identity.name,
    ...(identity.tenant ? { tenant: identity.tenant } : {}),
  });
  return token;
}

/** The claims a page shows (name, role); the server is what verifies them. */
export function decodeTokenClaims(token: string): { sub?: string; name?: string; role?: string } {
  try {
    const payload = token.split('.')[1] ?? '';
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      Array.from(atob(base64), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    return JSON.parse(json) as { sub?: string; name?: string; role?: string };
  } catch {
    return {};
  }
}

/**
 * Whether the token claims the admin role (`role`, or a `roles` array, any
 * case, as the server reads them). Only decides what the page offers: the
 * server refuses a non-admin's changes whatever the page shows.
 */
export function hasAdminRole(token: string): boolean {
  const claims = decodeTokenClaims(token) as { role?: unknown; roles?: unknown };
  const roles = [claims.role, ...(Array.isArray(claims.roles) ? claims.roles : [])];
  return roles.some((r) => typeof r === 'string' && r.toLowerCase() === 'admin');
}

/**
 * A random id for `clientMessageId` and subjects. `crypto.randomUUID` only
 * exists in secure contexts, and a demo opened at http://192.168.x.y is not
 * one, hence the fallback.
 */
export function randomId(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID().replace(/-/g, '');
  if (c && typeof c.getRandomValues === 'function') {
    return Array.from(c.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}
