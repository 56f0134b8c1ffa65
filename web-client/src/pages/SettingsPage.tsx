import { useEffect, useState } from 'react';
import { ChatError, type TenantSettings } from '../chat/protocol';
import { CannedResponsesSettings } from '../components/CannedResponsesSettings';
import { SettingsForm } from '../components/SettingsForm';
import { SignInForm } from '../components/SignInForm';
import { useIdentity } from '../hooks/useIdentity';
import { api } from '../lib/api';
import { hasAdminRole } from '../lib/identity';

/**
 * The tenant's settings (`GET`/`PATCH /api/settings`, PROTOCOL §7): for
 * admins; agents see them read-only. Shares the dashboard's sign-in (the
 * same tab identity).
 */
export function SettingsPage() {
  const auth = useIdentity('agent');
  return (
    <div className="console">
      <header className="site-bar">
        <a href="/" className="brand">
          <span className="brand__mark" aria-hidden="true" />
          Switchboard
        </a>
        <div className="site-bar__right">
          <a className="btn btn--ghost btn--small" href="/dashboard">
            Dashboard
          </a>
          <a className="btn btn--ghost btn--small" href="/reports">
            Reports
          </a>
          {auth.status === 'ready' && auth.token && hasAdminRole(auth.token) ? (
            <a className="btn btn--ghost btn--small" href="/integrations">
              Integrations
            </a>
          ) : null}
          {auth.status === 'ready' && auth.identity ? <span className="agent-name">{auth.identity.name}</span> : null}
        </div>
      </header>
      <main id="main" className="settings-page">
        <h1 className="settings-page__title">Settings</h1>
        {auth.status === 'ready' && auth.token ? (
          <>
            <SettingsLoader token={auth.token} />
            <CannedResponsesSettings token={auth.token} canEdit={hasAdminRole(auth.token)} />
          </>
        ) : auth.status === 'signing-in' ? (
          <p className="muted" role="status">
            Signing in…
          </p>
        ) : (
          <SignInForm
            title="Administrator sign-in"
            intro="Demo mode: settings are for administrators."
            label="Your name"
            submitLabel="Open settings"
            error={auth.error}
            adminOption
            adminByDefault
            onSubmit={(name, asAdmin) => void auth.signIn(name, asAdmin ? 'admin' : 'agent')}
          />
        )}
      </main>
    </div>
  );
}

function SettingsLoader({ token }: { token: string }) {
  const [settings, setSettings] = useState<TenantSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const isAdmin = hasAdminRole(token);

  useEffect(() => {
    let cancelled = false;
    api
      .getSettings(token)
      .then((s) => !cancelled && setSettings(s))
      .catch((err: Error) => {
        if (cancelled) return;
        setError(
          err instanceof ChatError && err.code === 'not_found'
            ? 'This server has no tenant settings (it speaks protocol v1.2).'
            : err.message,
        );
      });
    return () => {
      cancelled = true;
    };
  }, [token]);

  if (error) {
    return (
      <p className="form__error" role="alert">
        {error}
      </p>
    );
  }
  if (!settings) {
    return (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  }
  return (
    <div className="card">
      {!isAdmin ? (
        <p className="banner banner--info banner--boxed" role="note">
          Only administrators can change these settings.
        </p>
      ) : null}
      <SettingsForm settings={settings} canEdit={isAdmin} onSave={(patch) => api.updateSettings(token, patch)} />
    </div>
  );
}
