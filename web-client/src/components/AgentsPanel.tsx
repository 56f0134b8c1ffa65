import { useState, type FormEvent } from 'react';
import type { AgentState } from '../chat/protocol';
import { formatLoad, isRoutable, presenceLabel } from '../chat/routing';
import type { AgentsState } from '../hooks/useAgents';
import { api } from '../lib/api';

type Props = {
  agents: AgentsState;
  token: string;
  myId: string | null;
  /** Admins set each agent's capacity (`PATCH /api/agents/{id}` with `maxChats`). */
  canEdit: boolean;
};

/**
 * The tenant's agents with their availability, online state and load,
 * live (`agent-updated`). Hidden on a server without the agents API (v1.2).
 */
export function AgentsPanel({ agents, token, myId, canEdit }: Props) {
  if (agents.supported === false) return null;
  const list = agents.agents;
  const available = list.filter(isRoutable).length;
  return (
    <section aria-labelledby="team-title" className="panel panel--team">
      <h2 id="team-title" className="panel__title">
        Team <span className="count-badge" data-testid="team-available">{available}</span>
        <span className="panel__hint">available now</span>
      </h2>
      {agents.error ? (
        <p className="form__error" role="alert">
          {agents.error}
        </p>
      ) : null}
      {list.length === 0 ? (
        <p className="muted empty">{agents.supported === null ? 'Loading…' : 'No agents yet.'}</p>
      ) : (
        <ul className="agents" data-testid="agents">
          {list.map((a) => (
            <AgentRow key={a.id} agent={a} me={a.id === myId} canEdit={canEdit} token={token} onSaved={agents.apply} />
          ))}
        </ul>
      )}
    </section>
  );
}

type RowProps = { agent: AgentState; me: boolean; canEdit: boolean; token: string; onSaved: (a: AgentState) => void };

function AgentRow({ agent, me, canEdit, token, onSaved }: RowProps) {
  const name = agent.name?.trim() || agent.id;
  const presence = presenceLabel(agent);
  return (
    <li className="agent-row" data-testid="agent-row" data-agent-id={agent.id} data-presence={presence.toLowerCase()}>
      <span className={`presence-dot presence-dot--${presence.toLowerCase()}`} aria-hidden="true" />
      <div className="agent-row__text">
        <span className="agent-row__name">
          {name}
          {me ? <span className="muted"> (you)</span> : null}
          {agent.role === 'admin' ? <span className="role-badge">Admin</span> : null}
        </span>
        <span className="agent-row__meta">
          <span data-testid="agent-presence">{presence}</span> · <span data-testid="agent-load">{formatLoad(agent)}</span>
        </span>
      </div>
      {canEdit ? <MaxChatsEditor agent={agent} name={name} token={token} onSaved={onSaved} /> : null}
    </li>
  );
}

function MaxChatsEditor({ agent, name, token, onSaved }: { agent: AgentState; name: string; token: string; onSaved: (a: AgentState) => void }) {
  // null: not being edited, so the live value shows.
  const [draft, setDraft] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const value = draft ?? String(agent.maxChats);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 100) {
      setError('0 to 100');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSaved(await api.updateAgent(token, agent.id, { maxChats: n }));
      setDraft(null);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="max-chats" onSubmit={save}>
      <label className="visually-hidden" htmlFor={`max-chats-${agent.id}`}>
        Max chats for {name}
      </label>
      <input
        id={`max-chats-${agent.id}`}
        type="number"
        inputMode="numeric"
        min={0}
        max={100}
        step={1}
        value={value}
        onChange={(e) => setDraft(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `max-chats-${agent.id}-error` : undefined}
      />
      <button type="submit" className="btn btn--ghost btn--small" disabled={busy || draft === null} aria-label={`Set max chats for ${name}`}>
        {busy ? 'Saving…' : 'Set'}
      </button>
      {error ? (
        <span id={`max-chats-${agent.id}-error`} className="max-chats__error" role="alert">
          {error}
        </span>
      ) : null}
    </form>
  );
}
