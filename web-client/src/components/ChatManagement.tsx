import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ChatConnection } from '../chat/connection';
import { isStaff, type AgentState, type Message, type MessagesReadEvent, type Session, type SessionClosedEvent } from '../chat/protocol';
import { arrivalFor } from '../chat/routing';
import { supersedes } from '../chat/sessionOrder';
import type { AgentsState } from '../hooks/useAgents';
import { useChatSocket } from '../hooks/useChatSocket';
import { useSocketEvent, type ChatConnectionState } from '../hooks/useChatConnection';
import { useNow } from '../hooks/useNow';
import type { Notify } from '../hooks/useToasts';
import { api } from '../lib/api';
import { displayName, formatSince } from '../lib/format';
import { AvailabilityControl } from './AvailabilityControl';
import { RatingStars } from './RatingStars';
import { ChatError, ChatThread } from './ChatThread';
import { TranscriptButton } from './TranscriptButton';
import { TransferDialog } from './TransferDialog';

type Props = {
  conn: ChatConnectionState;
  token: string;
  /** A session the agent chose to take from the queue (or a toast). */
  takeRequest: { session: Session; at: number } | null;
  /** The tenant's agents, for the transfer dialog (v1.3). */
  agents: AgentsState;
  notify: Notify;
};

/**
 * The agent's own chats: their availability and load (v1.3), a list with
 * unread counts (the socket stays in each room to hear new messages) and
 * the open conversation. Opening a pending session joins it, which takes
 * it; chats the server assigns (auto-assignment, a colleague's transfer)
 * appear by themselves, with a toast.
 */
export function ChatManagement({ conn, token, takeRequest, agents, notify }: Props) {
  const [sessions, setSessions] = useState<Map<string, Session>>(new Map());
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const now = useNow();
  const { socket, connection, isConnected, user } = conn;
  const myId = user?.id ?? null;
  // What we know of each session as the events arrive (the state lags a render behind).
  const latest = useRef(new Map<string, Session>());
  // Sessions this agent asked to take: their assignment is no news to them.
  const takenByMe = useRef(new Set<string>());

  const upsert = useCallback((session: Session | undefined) => {
    if (!session?.id) return;
    if (supersedes(latest.current.get(session.id), session)) latest.current.set(session.id, session);
    setSessions((map) => {
      const known = map.get(session.id);
      // News can arrive out of order: an older snapshot never replaces a newer one.
      if (!supersedes(known, session)) return map;
      const next = new Map(map);
      // Once known, the unread count is kept live here (new-message +1,
      // messages-read -count): a session in an event or an ack is a
      // snapshot that can predate a messages-read already applied.
      next.set(session.id, known ? { ...session, unreadCount: known.unreadCount } : session);
      return next;
    });
  }, []);

  // (Re)load on each connection: what changed while offline is not replayed.
  useEffect(() => {
    if (!isConnected) return;
    let cancelled = false;
    api
      .listSessions(token, { status: 'active', limit: 200 })
      .then((page) => {
        if (cancelled) return;
        setSessions((map) => {
          const next = new Map(map);
          for (const s of page.items) {
            const known = map.get(s.id);
            if (supersedes(known, s)) next.set(s.id, s);
            if (supersedes(latest.current.get(s.id), s)) latest.current.set(s.id, s);
          }
          return next;
        });
      })
      .catch(() => {
        // The list fills from events; a reload retries.
      });
    return () => {
      cancelled = true;
    };
  }, [isConnected, token]);

  useEffect(() => {
    if (takeRequest) {
      takenByMe.current.add(takeRequest.session.id);
      upsert(takeRequest.session);
      setSelectedId(takeRequest.session.id);
    }
  }, [takeRequest, upsert]);

  useSocketEvent<Session>(socket, 'session-updated', (session) => {
    if (!session?.id) return;
    const before = latest.current.get(session.id);
    const arrival = arrivalFor(before, session, myId, takenByMe.current);
    upsert(session);
    // Sent back to the queue (by me or an admin): no longer ours to show;
    // kept open, a reconnect's join would take it again.
    if (session.status === 'pending' && session.assignedAt !== null && before?.status === 'active') {
      takenByMe.current.delete(session.id);
      setSelectedId((current) => (current === session.id ? null : current));
    }
    if (!arrival) return;
    const customer = displayName(session.customer, 'a customer');
    notify({
      id: `assigned:${session.id}`,
      title: `New chat assigned: ${customer}`,
      body: arrival.kind === 'transferred' ? `Transferred by ${displayName(arrival.from)}` : (session.subject ?? undefined),
      actionLabel: 'Open',
      onAction: () => setSelectedId(session.id),
    });
  });
  useSocketEvent<SessionClosedEvent>(socket, 'session-closed', (e) => upsert(e?.session));
  useSocketEvent<Message>(socket, 'new-message', (m) => {
    if (!m || isStaff(m.sender.role) || m.sessionId === selectedId) return;
    setSessions((map) => {
      const s = map.get(m.sessionId);
      if (!s) return map;
      const next = new Map(map);
      next.set(s.id, { ...s, unreadCount: s.unreadCount + 1, lastMessageAt: m.createdAt });
      return next;
    });
  });
  useSocketEvent<MessagesReadEvent>(socket, 'messages-read', (e) => {
    if (!e || !isStaff(e.reader.role)) return;
    setSessions((map) => {
      const s = map.get(e.sessionId);
      if (!s) return map;
      const next = new Map(map);
      next.set(s.id, { ...s, unreadCount: Math.max(0, s.unreadCount - e.count) });
      return next;
    });
  });

  // Mine: held by me, or the one I am taking right now.
  const mine = useMemo(() => {
    const list = [...sessions.values()].filter((s) => (s.agent && s.agent.id === myId) || s.id === selectedId);
    const rank = (s: Session) => (s.status === 'closed' ? 1 : 0);
    return list.sort((a, b) => rank(a) - rank(b) || (b.lastMessageAt ?? b.createdAt).localeCompare(a.lastMessageAt ?? a.createdAt));
  }, [sessions, myId, selectedId]);

  // Stay in the room of every active chat of mine, to count unread messages.
  const watchKey = mine
    .filter((s) => s.status === 'active' && s.agent?.id === myId)
    .map((s) => s.id)
    .sort()
    .join(',');
  useEffect(() => {
    if (!connection || !watchKey) return;
    const stops = watchKey.split(',').map((id) => connection.watchSession(id));
    return () => stops.forEach((stop) => stop());
  }, [connection, watchKey]);

  const selected = selectedId ? (sessions.get(selectedId) ?? null) : null;

  // Handed over: the chat is no longer ours to show.
  const onTransferred = useCallback(
    (session: Session, to: AgentState | null) => {
      takenByMe.current.delete(session.id);
      setSelectedId((current) => (current === session.id ? null : current));
      notify({
        id: `transferred:${session.id}`,
        title: to ? `Chat transferred to ${displayName(to)}` : 'Chat sent back to the queue',
        body: displayName(session.customer, 'Customer'),
      });
    },
    [notify],
  );

  // On a narrow screen the conversation is below the lists: bring it into view.
  const chatRef = useRef<HTMLElement>(null);
  useEffect(() => {
    if (selectedId && window.matchMedia?.('(max-width: 899px)').matches) {
      chatRef.current?.scrollIntoView({ behavior: 'smooth', block: 'start' });
    }
  }, [selectedId, takeRequest]);

  return (
    <div className="management">
      <section className="panel panel--mine" aria-labelledby="mine-title">
        <h2 id="mine-title" className="panel__title">
          My chats <span className="count-badge">{mine.filter((s) => s.status !== 'closed').length}</span>
        </h2>
        <AvailabilityControl conn={conn} />
        {mine.length === 0 ? (
          <p className="muted empty">Take a chat from the queue to start.</p>
        ) : (
          <ul className="sessions" data-testid="my-sessions">
            {mine.map((s) => (
              <li key={s.id}>
                <button
                  type="button"
                  className={`session-item${s.id === selectedId ? ' session-item--selected' : ''} session-item--${s.status}`}
                  aria-current={s.id === selectedId ? 'true' : undefined}
                  onClick={() => setSelectedId(s.id)}
                  data-testid="session-item"
                  data-session-id={s.id}
                >
                  <span className="session-item__name">{displayName(s.customer, 'Customer')}</span>
                  <span className="session-item__subject">{s.subject || 'No subject'}</span>
                  <span className="session-item__meta">
                    {s.status === 'closed' ? 'Closed' : s.status === 'pending' ? 'Taking…' : formatSince(s.lastMessageAt ?? s.createdAt, now)}
                  </span>
                  {s.rating ? <RatingStars rating={s.rating} /> : null}
                  {s.unreadCount > 0 && s.id !== selectedId ? (
                    <span className="unread-badge" data-testid="unread-count" aria-label={`${s.unreadCount} unread`}>
                      {s.unreadCount}
                    </span>
                  ) : null}
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="panel panel--chat" aria-label="Conversation" ref={chatRef}>
        {selected ? (
          <ChatPanel
            key={selected.id}
            token={token}
            initial={selected}
            myId={myId}
            onSessionChange={upsert}
            agents={agents}
            connection={connection}
            onTransferred={onTransferred}
          />
        ) : (
          <div className="placeholder">
            <p className="muted">Select a chat, or take one from the queue.</p>
          </div>
        )}
      </section>
    </div>
  );
}

type PanelProps = {
  token: string;
  initial: Session;
  myId: string | null;
  onSessionChange: (s: Session) => void;
  agents: AgentsState;
  connection: ChatConnection | null;
  onTransferred: (session: Session, to: AgentState | null) => void;
};

function ChatPanel({ token, initial, myId, onSessionChange, agents, connection, onTransferred }: PanelProps) {
  const chat = useChatSocket({ sessionId: initial.id, token, onSessionChange });
  const session = chat.session ?? initial;
  const [closing, setClosing] = useState(false);
  const [transferring, setTransferring] = useState(false);
  const mineToAnswer = session.agent?.id === myId || chat.user?.role === 'admin';
  const watching = session.status === 'active' && !mineToAnswer;
  // Transfer needs the v1.3 agents API (to choose someone) and an active chat of ours.
  const canTransfer = session.status === 'active' && mineToAnswer && agents.supported === true && connection !== null;

  const close = async () => {
    setClosing(true);
    try {
      const closed = await chat.closeSession();
      if (closed) onSessionChange(closed);
    } catch {
      // The hook reports it.
    } finally {
      setClosing(false);
    }
  };

  return (
    <div className="chat-panel" data-testid="chat-panel" data-session-id={session.id}>
      <header className="chat-panel__header">
        <div>
          <h2 className="chat-panel__title">{displayName(session.customer, 'Customer')}</h2>
          <p className="chat-panel__subtitle">
            {session.subject || 'No subject'} ·{' '}
            <span className={`status-pill status-pill--${session.status}`} data-testid="panel-status">
              {session.status}
            </span>
          </p>
        </div>
        <div className="chat-panel__actions">
          <TranscriptButton token={token} sessionId={session.id} />
          {canTransfer ? (
            <button
              type="button"
              className="btn btn--ghost btn--small"
              onClick={() => setTransferring(true)}
              disabled={!chat.isConnected}
              aria-haspopup="dialog"
            >
              Transfer
            </button>
          ) : null}
          {session.status !== 'closed' && mineToAnswer ? (
            <button type="button" className="btn btn--danger btn--small" onClick={close} disabled={closing || !chat.isConnected}>
              {closing ? 'Closing…' : 'Close chat'}
            </button>
          ) : null}
        </div>
      </header>
      {transferring && connection ? (
        <TransferDialog
          session={session}
          agents={agents.agents}
          myId={myId}
          connection={connection}
          onClose={() => setTransferring(false)}
          onTransferred={(updated, to) => {
            setTransferring(false);
            onSessionChange(updated);
            onTransferred(updated, to);
          }}
        />
      ) : null}
      {watching ? (
        <div className="banner banner--info" role="status">
          {displayName(session.agent)} is handling this chat; you are watching.
        </div>
      ) : null}
      {session.status === 'closed' ? (
        <div className="banner banner--closed" role="status">
          Closed{session.closedBy ? ` by ${displayName(session.closedBy)}` : ''}.
          {session.rating ? <RatingStars rating={session.rating} withComment /> : null}
        </div>
      ) : null}
      <ChatError error={chat.error} />
      <ChatThread chat={chat} placeholder={`Reply to ${displayName(session.customer, 'the customer')}…`} autoFocus agentTools />
    </div>
  );
}
