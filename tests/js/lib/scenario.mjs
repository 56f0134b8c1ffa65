// The few set-ups most tests start from: a customer with a pending session,
// and a session an agent has taken, each side connected and in the room.

import { connect, makeUser, ok, waitFor } from './clients.mjs';
import { openSession } from './rest.mjs';

/** A customer (connected, in the room) with a fresh pending session. */
export async function pendingSession(server, { tenant, subject, message, transports = ['websocket'] } = {}) {
  const customer = makeUser('customer', { tenant });
  const session = await openSession(server, customer, { subject, message });
  const customerSocket = await connect(server, customer.token, { transports });
  await waitFor(customerSocket, 'connected');
  await ok(customerSocket, 'join-session', { sessionId: session.id });
  return { customer, session, customerSocket };
}

/**
 * A session an agent took by joining it: the customer and the agent are both
 * connected and in the room. `session` is the active session the agent's ack returned.
 */
export async function activeSession(server, { tenant, subject, message, agentRole = 'agent', transports = ['websocket'] } = {}) {
  const pending = await pendingSession(server, { tenant, subject, message, transports });
  const agent = makeUser(agentRole, { tenant });
  const agentSocket = await connect(server, agent.token, { transports });
  await waitFor(agentSocket, 'connected');
  const joined = await ok(agentSocket, 'join-session', { sessionId: pending.session.id });
  // Let the take's events settle, so a test starts from a quiet room.
  await waitFor(pending.customerSocket, 'session-updated');
  await waitFor(pending.customerSocket, 'session-joined', { filter: (e) => e.user?.id === agent.sub });
  await waitFor(agentSocket, 'session-joined');
  return { ...pending, agent, agentSocket, session: joined.session, messages: joined.messages };
}

/** Sends messages one after the other; resolves with the acked Messages. */
export async function sendMessages(socket, sessionId, contents) {
  const sent = [];
  for (const content of contents) {
    sent.push(await ok(socket, 'send-message', { sessionId, content }));
  }
  return sent;
}
