import { useEffect, useId, useState, type FormEvent } from 'react';
import type { QueueInfo, QueueUpdateEvent, ServiceStatus, Session } from '../chat/protocol';
import { describeQueue, serviceNotice, validQueue } from '../chat/routing';
import { useChatConnection, useSocketEvent } from '../hooks/useChatConnection';
import { useChatSocket, type UseChatSocketResult } from '../hooks/useChatSocket';
import { useIdentity } from '../hooks/useIdentity';
import { api } from '../lib/api';
import { displayName } from '../lib/format';
import { ChatError, ChatThread } from './ChatThread';
import { ConnectionIndicator } from './ConnectionIndicator';
import { RatingPrompt } from './RatingPrompt';
import { ServiceNotice } from './ServiceNotice';

/**
 * The customer widget: start a chat (name, subject, first message), wait
 * in the queue (v1.3: with the place in line and the expected wait, and the
 * tenant's offline message when closed or unstaffed), talk to the agent who
 * takes it, see it closed. A reload finds the open chat again (same tab
 * identity, `GET /api/chat/sessions`).
 */
export function ChatSupport() {
  const auth = useIdentity('customer');
  // A known customer is connected before starting: the service status is live.
  const conn = useChatConnection(auth.token);
  const [session, setSession] = useState<Session | null>(null);
  // A stored identity or a URL token: look for an open chat before offering a new one.
  const [resuming, setResuming] = useState(auth.status !== 'anonymous');

  // Signed in (or back after a reload): resume the open chat, if any.
  useEffect(() => {
    if (!auth.token) return;
    let cancelled = false;
    api
      .listSessions(auth.token, { limit: 20 })
      .then((page) => {
        const open = page.items.find((s) => s.status !== 'closed');
        if (!cancelled && open) setSession((current) => current ?? open);
      })
      .catch(() => {
        // No list, no resume: the start form is still there.
      })
      .finally(() => {
        if (!cancelled) setResuming(false);
      });
    return () => {
      cancelled = true;
    };
  }, [auth.token]);

  useEffect(() => {
    if (auth.status === 'error' || auth.status === 'anonymous') setResuming(false);
  }, [auth.status]);

  const loading = resuming && !session;

  return (
    <section className="widget" aria-labelledby="widget-title">
      {session && auth.token ? (
        <ChatView
          key={session.id}
          token={auth.token}
          initial={session}
          onNewChat={() => setSession(null)}
        />
      ) : (
        <>
          <header className="widget__header">
            <div>
              <h1 id="widget-title" className="widget__title">
                Support
              </h1>
              <p className="widget__subtitle">We usually answer within a few minutes.</p>
            </div>
          </header>
          <div className="widget__body widget__body--padded">
            {loading ? (
              <p className="muted center" role="status">
                Loading…
              </p>
            ) : (
              <StartChatForm
                service={conn.service}
                knownName={auth.status === 'ready' ? (auth.identity?.name ?? null) : null}
                canSwitch={!auth.fromUrl}
                authError={auth.error}
                signIn={auth.signIn}
                onSwitch={auth.signOut}
                token={auth.token}
                onStarted={setSession}
              />
            )}
          </div>
        </>
      )}
    </section>
  );
}

type StartProps = {
  service: ServiceStatus | null;
  knownName: string | null;
  canSwitch: boolean;
  authError: string | null;
  token: string | null;
  signIn: (name: string) => Promise<string | null>;
  onSwitch: () => void;
  onStarted: (session: Session) => void;
};

function StartChatForm({ service, knownName, canSwitch, authError, token, signIn, onSwitch, onStarted }: StartProps) {
  const id = useId();
  const [name, setName] = useState('');
  const [subject, setSubject] = useState('');
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!message.trim() || (!knownName && !name.trim())) return;
    setBusy(true);
    setError(null);
    try {
      const useToken = token && knownName ? token : await signIn(name);
      if (!useToken) return; // signIn reported its error
      const session = await api.createSession(useToken, {
        ...(subject.trim() ? { subject: subject.trim() } : {}),
        message: message.trim(),
      });
      onStarted(session);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form" onSubmit={submit} aria-label="Start a chat">
      <ServiceNotice service={service} className="banner--boxed" />
      <p className="muted">
        {serviceNotice(service) ? 'Tell us what you need: we will answer here.' : 'Tell us what you need and an agent will join you.'}
      </p>
      {knownName ? (
        <p className="signed-in">
          Chatting as <strong>{knownName}</strong>
          {canSwitch ? (
            <>
              {' · '}
              <button type="button" className="link-button" onClick={onSwitch}>
                Not you?
              </button>
            </>
          ) : null}
        </p>
      ) : (
        <div className="field">
          <label htmlFor={`${id}-name`}>Your name</label>
          <input id={`${id}-name`} autoComplete="name" required maxLength={80} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
        </div>
      )}
      <div className="field">
        <label htmlFor={`${id}-subject`}>
          Subject <span className="muted">(optional)</span>
        </label>
        <input id={`${id}-subject`} maxLength={200} value={subject} onChange={(e) => setSubject(e.target.value)} autoFocus={Boolean(knownName)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-message`}>How can we help?</label>
        <textarea
          id={`${id}-message`}
          required
          rows={4}
          maxLength={4000}
          value={message}
          onChange={(e) => setMessage(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit();
          }}
        />
      </div>
      {error || authError ? (
        <p className="form__error" role="alert">
          {error ?? authError}
        </p>
      ) : null}
      <button type="submit" className="btn btn--primary btn--block" disabled={busy || !message.trim() || (!knownName && !name.trim())}>
        {busy ? 'Starting…' : 'Start chat'}
      </button>
    </form>
  );
}

type ChatViewProps = { token: string; initial: Session; onNewChat: () => void };

function ChatView({ token, initial, onNewChat }: ChatViewProps) {
  const chat = useChatSocket({ sessionId: initial.id, token });
  const session = chat.session ?? initial;
  const [ending, setEnding] = useState(false);
  const closed = session.status === 'closed';
  const agentName = displayName(session.agent, 'An agent');
  const queue = useQueue(chat, session);
  const notice = session.status === 'pending' ? serviceNotice(chat.service) : null;

  const endChat = async () => {
    setEnding(true);
    try {
      await chat.closeSession();
    } catch {
      // Shown by the hook's error.
    } finally {
      setEnding(false);
    }
  };

  return (
    <>
      <header className="widget__header">
        <div className="widget__heading">
          <h1 id="widget-title" className="widget__title">
            {session.subject || 'Support'}
          </h1>
          <p className="widget__subtitle" data-testid="session-state" data-session-status={session.status}>
            {session.status === 'pending' && 'Waiting for an agent'}
            {session.status === 'active' && `Chatting with ${agentName}`}
            {closed && 'Chat closed'}
          </p>
        </div>
        <div className="widget__tools">
          <ConnectionIndicator
            compact
            status={chat.connectionStatus}
            error={chat.connectionError}
            exhausted={chat.reconnectExhausted}
            attempt={chat.reconnectAttempt}
            onReconnect={chat.reconnect}
          />
          {!closed ? (
            <button type="button" className="btn btn--small btn--on-brand" onClick={endChat} disabled={ending || !chat.isConnected}>
              End chat
            </button>
          ) : null}
        </div>
      </header>
      {session.status === 'pending' ? (
        <div className="banner banner--queue" role="status" data-testid="queue-banner">
          <span className="spinner" aria-hidden="true" />
          <div>
            <strong>You're in the queue.</strong>{' '}
            {queue ? (
              <span data-testid="queue-position" data-position={queue.position}>
                {describeQueue(queue)}
              </span>
            ) : notice ? null : (
              'An agent will be with you shortly.'
            )}{' '}
            You can keep writing meanwhile.
          </div>
        </div>
      ) : null}
      {session.status === 'pending' ? <ServiceNotice service={chat.service} /> : null}
      {session.status === 'active' ? (
        <div className="banner banner--joined" role="status" data-testid="agent-banner">
          <strong>{agentName}</strong> joined the chat.
        </div>
      ) : null}
      <ChatError error={chat.error} />
      <div className="widget__body">
        <ChatThread chat={chat} autoFocus emptyText="Say hello!" />
      </div>
      {closed ? (
        <div className="banner banner--closed" role="status" data-testid="closed-banner">
          <div>
            <strong>This chat has been closed</strong>
            {session.closedBy ? ` by ${displayName(session.closedBy)}` : ''}. Thank you for contacting us.
          </div>
          <button type="button" className="btn btn--primary btn--small" onClick={onNewChat}>
            Start a new chat
          </button>
        </div>
      ) : null}
      {closed ? <RatingPrompt session={session} connection={chat.connection} isConnected={chat.isConnected} token={token} /> : null}
    </>
  );
}

/**
 * The session's place in line while it is pending: `Session.queue` from the
 * last snapshot (REST, join ack, session events), replaced by each
 * `queue-update` for this session until a newer snapshot comes. Null when
 * not pending, or from a v1.2 server.
 */
function useQueue(chat: UseChatSocketResult, session: Session): QueueInfo | null {
  const [live, setLive] = useState<QueueInfo | null>(null);
  const snapshotQueue = session.queue;
  useEffect(() => setLive(null), [snapshotQueue]);
  useSocketEvent<QueueUpdateEvent>(chat.socket, 'queue-update', (e) => {
    if (e?.sessionId === session.id) setLive(validQueue(e.queue));
  });
  if (session.status !== 'pending') return null;
  return live ?? validQueue(snapshotQueue);
}
