import type { ReactNode } from 'react';
import { ApiKeysSection } from '../components/ApiKeysSection';
import { ChatNotification } from '../components/ChatNotification';
import { ConnectionIndicator } from '../components/ConnectionIndicator';
import { SignInForm } from '../components/SignInForm';
import { WebhooksSection } from '../components/WebhooksSection';
import { useChatConnection } from '../hooks/useChatConnection';
import { useIdentity } from '../hooks/useIdentity';
import { useNotifyToasts } from '../hooks/useNotifyToasts';
import { useToasts } from '../hooks/useToasts';
import { hasAdminRole } from '../lib/identity';
import '../integrations.css';

/**
 * Integrations for administrators (PROTOCOL §9, v1.3): API keys for the
 * company's backend, webhook endpoints and their delivery logs (live, from
 * the admin's socket). Shares the dashboard's sign-in (the same tab
 * identity); loaded only on this page (a lazy chunk).
 */
export function IntegrationsPage() {
  const auth = useIdentity('agent');
  return (
    <div className="console">
      {auth.status === 'ready' && auth.token ? (
        <Integrations token={auth.token} name={auth.identity?.name ?? null} />
      ) : (
        <>
          <SiteBar name={null} />
          <main id="main" className="settings-page integrations-page">
            <h1 className="settings-page__title">Integrations</h1>
            {auth.status === 'signing-in' ? (
              <p className="muted" role="status">
                Signing in…
              </p>
            ) : (
              <SignInForm
                title="Administrator sign-in"
                intro="Demo mode: integrations are for administrators."
                label="Your name"
                submitLabel="Open integrations"
                error={auth.error}
                adminOption
                adminByDefault
                onSubmit={(name, asAdmin) => void auth.signIn(name, asAdmin ? 'admin' : 'agent')}
              />
            )}
          </main>
        </>
      )}
    </div>
  );
}

function SiteBar({ name, children }: { name: string | null; children?: ReactNode }) {
  return (
    <header className="site-bar">
      <a href="/" className="brand">
        <span className="brand__mark" aria-hidden="true" />
        Switchboard
      </a>
      <div className="site-bar__right">
        {children}
        <a className="btn btn--ghost btn--small" href="/dashboard">
          Dashboard
        </a>
        <a className="btn btn--ghost btn--small" href="/reports">
          Reports
        </a>
        <a className="btn btn--ghost btn--small" href="/settings">
          Settings
        </a>
        {name ? <span className="agent-name">{name}</span> : null}
      </div>
    </header>
  );
}

function Integrations({ token, name }: { token: string; name: string | null }) {
  // The socket brings the delivery log's live updates (admins only) and the backend's `notify.` toasts.
  const conn = useChatConnection(token);
  const { toasts, notify, dismiss } = useToasts();
  useNotifyToasts(conn.socket, conn.user, notify);
  const isAdmin = hasAdminRole(token);
  return (
    <>
      <SiteBar name={conn.user?.name ?? name}>
        <ConnectionIndicator
          status={conn.connectionStatus}
          error={conn.connectionError}
          exhausted={conn.reconnectExhausted}
          attempt={conn.reconnectAttempt}
          onReconnect={conn.reconnect}
        />
      </SiteBar>
      <main id="main" className="settings-page integrations-page">
        <h1 className="settings-page__title">Integrations</h1>
        {isAdmin ? (
          <>
            <ApiKeysSection token={token} />
            <WebhooksSection token={token} conn={conn} />
          </>
        ) : (
          <p className="banner banner--info banner--boxed" role="note" data-testid="integrations-admins-only">
            Integrations are for administrators. Ask one to create API keys or webhook endpoints.
          </p>
        )}
      </main>
      <ChatNotification toasts={toasts} onDismiss={dismiss} />
    </>
  );
}
