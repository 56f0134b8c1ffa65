// The token a page is opened with (`?token=`) is used, then removed from the
// address bar at once, so history, bookmarks and screenshots never keep it.

import { renderHook } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const b64url = (v: object) => btoa(JSON.stringify(v)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const token = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 'cust-1', name: 'Cleo' })}.c2ln`;

describe('?token= in the address bar', () => {
  beforeEach(() => {
    vi.resetModules();
    window.sessionStorage.clear();
    window.history.replaceState(null, '', `/widget?lang=fr&token=${token}#chat`);
  });

  it('is read by useIdentity and replaced away, keeping the rest of the URL', async () => {
    const { useIdentity } = await import('../src/hooks/useIdentity');
    const { result } = renderHook(() => useIdentity('customer'));
    expect(result.current.token).toBe(token);
    expect(result.current.fromUrl).toBe(true);
    expect(result.current.identity).toMatchObject({ sub: 'cust-1', name: 'Cleo' });
    expect(window.location.search).toBe('?lang=fr');
    expect(window.location.pathname).toBe('/widget');
    expect(window.location.hash).toBe('#chat');
    expect(window.location.href).not.toContain(token);
  });

  it('is read once per page load: a second reader gets the same token', async () => {
    const { takeUrlToken } = await import('../src/lib/identity');
    expect(takeUrlToken()).toBe(token);
    expect(window.location.search).toBe('?lang=fr');
    expect(takeUrlToken()).toBe(token);
  });
});
