// Signing a page in: `?token=` from the URL when present (any deployment;
// it is then removed from the address bar),
// otherwise a demo token from the development endpoint for a name typed on
// the page. The identity is kept per tab (sessionStorage), so a reload
// signs back in as the same user.

import { useCallback, useEffect, useState } from 'react';
import type { Role } from '../chat/protocol';
import {
  decodeTokenClaims,
  forgetIdentity,
  loadIdentity,
  makeSubject,
  mintDevToken,
  saveIdentity,
  setAuthToken,
  takeUrlToken,
  type Identity,
} from '../lib/identity';
import { ChatError } from '../chat/protocol';

export type IdentityState = {
  status: 'anonymous' | 'signing-in' | 'ready' | 'error';
  token: string | null;
  identity: Identity | null;
  /** The token came from the URL: no sign-in form, no sign-out. */
  fromUrl: boolean;
  error: string | null;
  /** Demo sign-in; `as` picks another role than the page's (an admin on the agent pages). */
  signIn: (name: string, as?: Role) => Promise<string | null>;
  signOut: () => void;
};

export function useIdentity(role: Role): IdentityState {
  const [urlToken] = useState(() => takeUrlToken());
  const [identity, setIdentity] = useState<Identity | null>(() => {
    if (urlToken) {
      const claims = decodeTokenClaims(urlToken);
      return { sub: claims.sub ?? 'unknown', name: claims.name ?? claims.sub ?? 'You', role };
    }
    return loadIdentity(role);
  });
  const [token, setToken] = useState<string | null>(urlToken);
  const [status, setStatus] = useState<IdentityState['status']>(
    urlToken ? 'ready' : identity ? 'signing-in' : 'anonymous',
  );
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setAuthToken(token);
  }, [token]);

  const obtain = useCallback(async (who: Identity): Promise<string | null> => {
    setStatus('signing-in');
    setError(null);
    try {
      const minted = await mintDevToken(who);
      saveIdentity(who, role);
      setIdentity(who);
      setAuthToken(minted);
      setToken(minted);
      setStatus('ready');
      return minted;
    } catch (err) {
      const notDev = err instanceof ChatError && (err.code === 'not_found' || err.code === 'internal');
      setError(
        notDev
          ? 'Demo sign-in is only available when the server runs in development mode. Open this page with ?token=<your JWT>.'
          : (err as Error).message,
      );
      setStatus('error');
      return null;
    }
  }, [role]);

  // A reload: sign back in as the stored identity.
  useEffect(() => {
    if (!urlToken && identity && !token) void obtain(identity);
    // Only on mount: later sign-ins go through signIn().
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const signIn = useCallback(
    (name: string, as: Role = role) => {
      const trimmed = name.trim();
      const who: Identity =
        identity && identity.name === trimmed && identity.role === as
          ? identity
          : { sub: makeSubject(as, trimmed), name: trimmed, role: as };
      return obtain(who);
    },
    [identity, obtain, role],
  );

  const signOut = useCallback(() => {
    forgetIdentity(role);
    setAuthToken(null);
    setToken(null);
    setIdentity(null);
    setStatus('anonymous');
  }, [role]);

  return { status, token, identity, fromUrl: Boolean(urlToken), error, signIn, signOut };
}
