import { useCallback, useState } from 'react';
import type { Session } from '../chat/protocol';
import { ChatManagement } from '../components/ChatManagement';
import { ChatNotification } from '../components/ChatNotification';
import { ConnectionIndicator } from '../components/ConnectionIndicator';
import { SignInForm } from '../components/SignInForm';
import { SupportDashboard } from '../components/SupportDashboard';
import { useAgents } from '../hooks/useAgents';
import { useChatConnection } from '../hooks/useChatConnection';
import { useIdentity } from '../hooks/useIdentity';
import { useNotifyToasts } from '../hooks/useNotifyToasts';
import { useToasts } from '../hooks/useToasts';
import { displayName } from '../lib/format';

/** The agent console: numbers and queue (SupportDashboard), own chats (ChatManagement). */
export function DashboardPage() {
  const auth = useIdentity('agent');
  return (
    <div className="console">
      {auth.status === 'ready' && auth.token ? (
        <AgentConsole token={auth.token} name={auth.identity?.name ?? null} onSignOut={auth.fromUrl ? null : auth.signOut} />
      ) : (
        <>
          <header className="site-bar">
            <a href="/" className="brand">
              <span className="brand__mark" aria-hidden="true" />
              Switchboard
            </a>
            <span className="muted small">Agent dashboard</span>
          </header>
          <main id="main" className="console__signin">
            {auth.status === 'signing-in' ? (
              <p className="muted center" role="status">
                Signing in…
              </p>
            ) : (
              <SignInForm
                title="Agent sign-in"
                intro="Demo mode: pick the name customers will see."
                label="Your name"
                submitLabel="Open dashboard"
                error={auth.error}
                adminOption
                onSubmit={(name, asAdmin) => void auth.signIn(name, asAdmin ? 'admin' : 'agent')}
              />
            )}
          </main>
        </>
      )}
    </div>
  );
}

function AgentConsole({ token, name, onSignOut }: { token: string; name: string | null; onSignOut: (() => void) | null }) {
  const conn = useChatConnection(token);
  const agents = useAgents(conn, token);
  const { toasts, notify, dismiss } = useToasts();
  // The backend's own `notify.*` events (server API), as toasts.
  useNotifyToasts(conn.socket, conn.user, notify);
  const [takeRequest, setTakeRequest] = useState<{ session: Session; at: number } | null>(null);
  const onTake = useCallback((session: Session) => setTakeRequest({ session, at: Date.now() }), []);
  return (
    <>
      <header className="site-bar">
        <a href="/" className="brand">
          <span className="brand__mark" aria-hidden="true" />
          Switchboard
        </a>
        <div className="site-bar__right">
          <ConnectionIndicator
            status={conn.connectionStatus}
            error={conn.connectionError}
            exhausted={conn.reconnectExhausted}
            attempt={conn.reconnectAttempt}
            onReconnect={conn.reconnect}
          />
          <a className="btn btn--ghost btn--small" href="/reports">
            Reports
          </a>
          {conn.user?.role === 'admin' ? (
            <>
              <a className="btn btn--ghost btn--small" href="/settings">
                Settings
              </a>
              <a className="btn btn--ghost btn--small" href="/integrations">
                Integrations
              </a>
            </>
          ) : null}
          <span className="agent-name" data-testid="agent-name">
            {displayName(conn.user, name ?? 'Agent')}
          </span>
          {onSignOut ? (
            <button type="button" className="btn btn--ghost btn--small" onClick={onSignOut}>
              Sign out
            </button>
          ) : null}
        </div>
      </header>
      <main id="main" className="console__main">
        <h1 className="visually-hidden">Agent dashboard</h1>
        <SupportDashboard conn={conn} token={token} onTake={onTake} agents={agents} notify={notify} dismiss={dismiss} />
        <ChatManagement conn={conn} token={token} takeRequest={takeRequest} agents={agents} notify={notify} />
      </main>
      <ChatNotification toasts={toasts} onDismiss={dismiss} />
    </>
  );
}
