// Routing as the client hears it, against the real (v1.3) server: the
// agent's own state and the service status kept by the shared connection,
// and the agents list kept live. No mocks; every wait is for a state the
// hooks reach, with a timeout. Each test has its own tenant.

import { act, renderHook, waitFor } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useAgents } from '../src/hooks/useAgents';
import { useChatConnection } from '../src/hooks/useChatConnection';
import { startServer, type SwitchboardServer } from '../test-support/switchboardServer.js';

let server: SwitchboardServer;
let counter = 0;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.stop();
});

const WAIT = { timeout: 10_000, interval: 20 };

function tenant(): string {
  counter += 1;
  return `routing-hooks-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

async function user(role: 'customer' | 'agent' | 'admin', name: string, inTenant: string) {
  const id = `${role}-${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`;
  return { id, token: await server.token({ sub: id, role, name, tenant: inTenant }) };
}

function connect(token: string) {
  return renderHook(() => useChatConnection(token, server.url));
}

describe('routing through the shared connection', () => {
  it('an agent learns their own state on connect and changes it with set-availability', async () => {
    const t = tenant();
    const bo = await user('agent', 'Bo', t);
    const { result, unmount } = connect(bo.token);
    await waitFor(() => expect(result.current.agent).toMatchObject({ id: bo.id, availability: 'available', online: true, activeChats: 0, maxChats: 5 }), WAIT);

    await act(async () => {
      await result.current.connection?.setAvailability('away');
    });
    expect(result.current.agent?.availability).toBe('away');
    unmount();

    // Kept across reconnects.
    const again = connect(bo.token);
    await waitFor(() => expect(again.result.current.agent?.availability).toBe('away'), WAIT);
    again.unmount();
  });

  it('a customer is told the service status on connect, and when an agent becomes available', async () => {
    const t = tenant();
    const ana = await user('customer', 'Ana', t);
    const customer = connect(ana.token);
    await waitFor(() => expect(customer.result.current.service).toMatchObject({ open: true, availableAgents: 0 }), WAIT);
    expect(customer.result.current.agent).toBeNull();

    const bo = await user('agent', 'Bo', t);
    const agent = connect(bo.token);
    await waitFor(() => expect(customer.result.current.service?.availableAgents).toBe(1), WAIT);

    await act(async () => {
      await agent.result.current.connection?.setAvailability('away');
    });
    await waitFor(() => expect(customer.result.current.service?.availableAgents).toBe(0), WAIT);
    agent.unmount();
    customer.unmount();
  });

  it('lists the tenant’s agents and keeps their state live', async () => {
    const t = tenant();
    const ada = await user('admin', 'Ada', t);
    const bo = await user('agent', 'Bo', t);
    const agent = connect(bo.token);
    await waitFor(() => expect(agent.result.current.agent).not.toBeNull(), WAIT);

    const { result, unmount } = renderHook(() => {
      const conn = useChatConnection(ada.token, server.url);
      return useAgents(conn, ada.token, server.url);
    });
    await waitFor(() => expect(result.current.supported).toBe(true), WAIT);
    await waitFor(() => expect(result.current.agents.map((a) => a.id).sort()).toEqual([ada.id, bo.id].sort()), WAIT);
    expect(result.current.agents.find((a) => a.id === bo.id)).toMatchObject({ name: 'Bo', role: 'agent', online: true });

    // An admin sets Bo's capacity; everyone's list follows (agent-updated).
    await server.rest('PATCH', `/api/agents/${encodeURIComponent(bo.id)}`, ada.token, { maxChats: 2 });
    await waitFor(() => expect(result.current.agents.find((a) => a.id === bo.id)?.maxChats).toBe(2), WAIT);
    await waitFor(() => expect(agent.result.current.agent?.maxChats).toBe(2), WAIT);

    agent.unmount();
    await waitFor(() => expect(result.current.agents.find((a) => a.id === bo.id)?.online).toBe(false), WAIT);
    unmount();
  });
});
