// The tenant's agents (PROTOCOL §6 `GET /api/agents`), kept live with
// `agent-updated`. Loaded again on every (re)connect: events missed while
// offline are not replayed. A v1.2 server has no such endpoint: `supported`
// turns false and the pages hide what needs it.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ChatError, type AgentState } from '../chat/protocol';
import { sortAgents, upsertAgent } from '../chat/routing';
import { api } from '../lib/api';
import { websocketConfig } from '../websocket.config';
import { useSocketEvent, type ChatConnectionState } from './useChatConnection';

export type AgentsState = {
  agents: AgentState[];
  /** null until the first answer; false: the server has no agents API (v1.2). */
  supported: boolean | null;
  error: string | null;
  /** Applies a state the page got itself (a PATCH answer). */
  apply: (agent: AgentState) => void;
};

export function useAgents(conn: ChatConnectionState, token: string, serverUrl: string = websocketConfig.serverUrl): AgentsState {
  const { socket, isConnected, agent: me } = conn;
  const [agents, setAgents] = useState<AgentState[]>([]);
  const [supported, setSupported] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  // States heard while a list is on its way: the list may predate them.
  const heard = useRef<Map<string, AgentState> | null>(null);

  useEffect(() => {
    if (!isConnected) return;
    let cancelled = false;
    heard.current = new Map();
    api
      .listAgents(token, serverUrl)
      .then(({ items }) => {
        if (cancelled) return;
        let list = Array.isArray(items) ? items : [];
        for (const a of heard.current?.values() ?? []) list = upsertAgent(list, a);
        heard.current = null;
        setAgents(sortAgents(list));
        setSupported(true);
        setError(null);
      })
      .catch((err: Error) => {
        if (cancelled) return;
        heard.current = null;
        if (err instanceof ChatError && err.code === 'not_found') setSupported(false);
        else setError(err.message);
      });
    return () => {
      cancelled = true;
    };
  }, [isConnected, token, serverUrl]);

  const apply = useCallback((agent: AgentState) => {
    if (!agent || typeof agent.id !== 'string') return;
    heard.current?.set(agent.id, agent);
    setAgents((list) => upsertAgent(list, agent));
  }, []);

  useSocketEvent<AgentState>(socket, 'agent-updated', apply);

  // Our own state also changes by our own requests (the set-availability ack).
  const merged = useMemo(
    () => (me ? agents.map((a) => (a.id === me.id ? me : a)) : agents),
    [agents, me],
  );

  return { agents: merged, supported, error, apply };
}
