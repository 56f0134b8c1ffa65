import { useEffect, useRef, useState } from 'react';
import type { Session, SessionClosedEvent, Stats } from '../chat/protocol';
import type { AgentsState } from '../hooks/useAgents';
import { useSocketEvent, type ChatConnectionState } from '../hooks/useChatConnection';
import { useNow } from '../hooks/useNow';
import type { Notify } from '../hooks/useToasts';
import { api } from '../lib/api';
import { displayName, formatDuration, formatSince, formatWaiting } from '../lib/format';
import { AgentsPanel } from './AgentsPanel';
import { RatingsStat } from './RatingsStat';

type Props = {
  conn: ChatConnectionState;
  token: string;
  /** The agent wants this pending session: ChatManagement joins it, which takes it. */
  onTake: (session: Session) => void;
  /** The tenant's agents (v1.3; hidden from a v1.2 server). */
  agents: AgentsState;
  notify: Notify;
  dismiss: (id: string) => void;
};

/**
 * Live numbers (`stats-update`), the queue of pending chats
 * (`GET /api/chat/sessions?status=pending`, then `new-pending-session`,
 * `session-updated` and `session-closed`) with a toast per new chat, and
 * the team: each agent's availability and load (admins set capacities).
 */
export function SupportDashboard({ conn, token, onTake, agents, notify, dismiss }: Props) {
  const [stats, setStats] = useState<Stats | null>(null);
  const [queue, setQueue] = useState<Session[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const now = useNow();
  const { socket, isConnected } = conn;
  // Sessions heard to leave the queue: a list fetched a moment earlier must not bring them back.
  const left = useRef(new Set<string>());

  // (Re)load the queue and the numbers on each connection: events missed
  // while offline are not replayed.
  useEffect(() => {
    if (!isConnected) return;
    let cancelled = false;
    api
      .listSessions(token, { status: 'pending', limit: 200 })
      .then((page) => {
        if (!cancelled) {
          setQueue(sortQueue(page.items.filter((s) => s.status === 'pending' && !left.current.has(s.id))));
          setLoadError(null);
        }
      })
      .catch((err: Error) => !cancelled && setLoadError(err.message));
    api
      .getStats(token)
      .then((s) => !cancelled && setStats((current) => newer(current, s)))
      .catch(() => {
        // stats-update will come.
      });
    return () => {
      cancelled = true;
    };
  }, [isConnected, token]);

  useSocketEvent<Stats>(socket, 'stats-update', (s) => setStats((current) => newer(current, s)));

  useSocketEvent<Session>(socket, 'new-pending-session', (session) => {
    if (!session || session.status !== 'pending') return;
    // A chat sent back to the queue (v1.3) is pending again.
    left.current.delete(session.id);
    setQueue((list) => sortQueue([...list.filter((s) => s.id !== session.id), session]));
    notify({
      id: session.id,
      title: `New chat from ${displayName(session.customer, 'a customer')}`,
      body: session.subject ?? undefined,
      actionLabel: 'Take',
      onAction: () => onTake(session),
    });
  });

  const removeFromQueue = (session: Session | undefined) => {
    if (!session) return;
    // Back to the queue (v1.3): a pending snapshot that keeps its assignedAt is news, not an old copy.
    if (session.status === 'pending' && session.assignedAt !== null) left.current.delete(session.id);
    if (session.status === 'pending' && !left.current.has(session.id)) {
      setQueue((list) => sortQueue([...list.filter((s) => s.id !== session.id), session]));
    } else {
      left.current.add(session.id);
      setQueue((list) => list.filter((s) => s.id !== session.id));
      dismiss(session.id);
    }
  };
  useSocketEvent<Session>(socket, 'session-updated', removeFromQueue);
  useSocketEvent<SessionClosedEvent>(socket, 'session-closed', (e) => removeFromQueue(e?.session));

  return (
    <div className="dashboard">
      <section aria-labelledby="stats-title" className="panel panel--stats">
        <h2 id="stats-title" className="panel__title">
          Today
          {stats ? <span className="panel__hint">updated {formatSince(stats.generatedAt, now)}</span> : null}
        </h2>
        <dl className="stats" data-testid="stats">
          <Stat label="Pending" value={stats?.pendingSessions} testId="stat-pending" highlight={Boolean(stats?.pendingSessions)} />
          <Stat label="Active" value={stats?.activeSessions} testId="stat-active" />
          <Stat label="Closed today" value={stats?.closedToday} testId="stat-closed" />
          <Stat label="Online agents" value={stats?.onlineAgents} testId="stat-agents" />
          {stats?.availableAgents !== undefined ? (
            <Stat
              label="Available agents"
              value={stats.availableAgents}
              testId="stat-available"
              highlight={stats.availableAgents === 0 && stats.pendingSessions > 0}
            />
          ) : null}
          <Stat label="Avg. wait" value={stats ? formatDuration(stats.avgWaitSeconds) : undefined} testId="stat-wait" />
          <Stat
            label="First response"
            value={stats ? formatDuration(stats.avgFirstResponseSeconds) : undefined}
            testId="stat-first-response"
          />
          {stats?.ratingsToday !== undefined ? <RatingsStat count={stats.ratingsToday} average={stats.avgRatingToday} /> : null}
        </dl>
      </section>

      <section aria-labelledby="queue-title" className="panel panel--queue">
        <h2 id="queue-title" className="panel__title">
          Queue <span className="count-badge" data-testid="queue-count">{queue.length}</span>
        </h2>
        {loadError ? (
          <p className="form__error" role="alert">
            {loadError}
          </p>
        ) : null}
        {queue.length === 0 ? (
          <p className="muted empty">No one is waiting. New chats appear here.</p>
        ) : (
          <ul className="queue" data-testid="queue">
            {queue.map((s) => (
              <li key={s.id} className="queue__item" data-testid="queue-item" data-session-id={s.id}>
                <div className="queue__text">
                  <span className="queue__name">{displayName(s.customer, 'Customer')}</span>
                  <span className="queue__subject">{s.subject || 'No subject'}</span>
                  <span className="queue__since">{formatWaiting(s.createdAt, now)}</span>
                </div>
                <button
                  type="button"
                  className="btn btn--primary btn--small"
                  onClick={() => onTake(s)}
                  disabled={!isConnected}
                  aria-label={`Take chat from ${displayName(s.customer, 'customer')}`}
                >
                  Take
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      <AgentsPanel agents={agents} token={token} myId={conn.user?.id ?? null} canEdit={conn.user?.role === 'admin'} />
    </div>
  );
}

function Stat({ label, value, testId, highlight }: { label: string; value: number | string | undefined; testId: string; highlight?: boolean }) {
  return (
    <div className={`stat${highlight ? ' stat--highlight' : ''}`}>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value ?? '…'}</dd>
    </div>
  );
}

function sortQueue(list: Session[]): Session[] {
  return [...list].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

function newer(current: Stats | null, next: Stats): Stats {
  return current && current.generatedAt > next.generatedAt ? current : next;
}
