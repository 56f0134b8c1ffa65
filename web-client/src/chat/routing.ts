// The pure rules of routing as the pages show it (PROTOCOL §7): what a
// waiting customer is told, how an agent's load reads, the tenant's agents
// kept in order as `agent-updated` events arrive, and which session updates
// are chats the server gave to this agent. No React, no socket: unit-tested
// alone (test/routing.test.ts).

import type { AgentState, QueueInfo, ServiceStatus, Session } from './protocol';

/** "less than a minute", "about 1 minute", "about 12 minutes", "about 2 hours". */
export function formatWait(seconds: number): string {
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`;
  const hours = Math.round(minutes / 60);
  return `about ${hours} ${hours === 1 ? 'hour' : 'hours'}`;
}

/**
 * "You are number 3 in line, about 6 minutes." / "You are next in line."
 * The estimate is left out when the server has none (null: too few recent
 * assignments, or nobody routable).
 */
export function describeQueue(queue: QueueInfo): string {
  const place = queue.position <= 1 ? 'You are next in line' : `You are number ${queue.position} in line`;
  const wait = queue.estimatedWaitSeconds;
  return wait === null || wait === undefined || !Number.isFinite(wait) ? `${place}.` : `${place}, ${formatWait(wait)}.`;
}

/** A QueueInfo as the server sends it, or null for anything else (a v1.2 server sends none). */
export function validQueue(queue: unknown): QueueInfo | null {
  const q = queue as QueueInfo | null | undefined;
  return q && typeof q === 'object' && typeof q.position === 'number' && q.position >= 1 ? q : null;
}

export type ServiceNotice = {
  kind: 'closed' | 'unstaffed';
  title: string;
  /** The tenant's offline message, when it set one. */
  message: string | null;
  hint: string;
};

/**
 * What the widget says when nobody will answer soon: outside business
 * hours, or with no agent available. Null while the service is open and
 * staffed, or unknown (a v1.2 server).
 */
export function serviceNotice(service: ServiceStatus | null | undefined): ServiceNotice | null {
  if (!service || typeof service.open !== 'boolean') return null;
  const message = service.offlineMessage?.trim() || null;
  if (!service.open) {
    return {
      kind: 'closed',
      title: 'We are closed right now.',
      message,
      hint: 'Leave a message and we will get back to you when we open.',
    };
  }
  if (service.availableAgents === 0) {
    return {
      kind: 'unstaffed',
      title: 'No agent is available right now.',
      message,
      hint: 'Leave a message: an agent will answer as soon as one is free.',
    };
  }
  return null;
}

/** "3 of 5 chats"; "2 chats, no auto-assignment" for a capacity of 0. */
export function formatLoad(agent: Pick<AgentState, 'activeChats' | 'maxChats'>): string {
  const chats = agent.activeChats === 1 ? 'chat' : 'chats';
  if (agent.maxChats <= 0) return `${agent.activeChats} ${chats}, no auto-assignment`;
  return `${agent.activeChats} of ${agent.maxChats} chats`;
}

/** Routable: online and available (the agents auto-assignment chooses from). */
export function isRoutable(agent: AgentState): boolean {
  return agent.online && agent.availability === 'available';
}

/** "Available", "Away", "Offline": what a colleague's state reads as. */
export function presenceLabel(agent: AgentState): string {
  if (!agent.online) return 'Offline';
  return agent.availability === 'available' ? 'Available' : 'Away';
}

function agentName(agent: AgentState): string {
  return agent.name?.trim() || agent.id;
}

/** By name, as `GET /api/agents` lists them. */
export function sortAgents(agents: readonly AgentState[]): AgentState[] {
  return [...agents].sort((a, b) => agentName(a).localeCompare(agentName(b)) || a.id.localeCompare(b.id));
}

/** The list with `agent` replacing its older state (or added), still by name. */
export function upsertAgent(agents: readonly AgentState[], agent: AgentState): AgentState[] {
  if (!agent || typeof agent.id !== 'string') return [...agents];
  return sortAgents([...agents.filter((a) => a.id !== agent.id), agent]);
}

/**
 * Who a chat can go to: everyone but me, those who can take it now first
 * (routable, then by load), then away, then offline; by name within each.
 */
export function transferTargets(agents: readonly AgentState[], myId: string | null): AgentState[] {
  const rank = (a: AgentState) => (isRoutable(a) ? 0 : a.online ? 1 : 2);
  return agents
    .filter((a) => a.id !== myId)
    .sort((a, b) => rank(a) - rank(b) || agentName(a).localeCompare(agentName(b)) || a.id.localeCompare(b.id));
}

export type Arrival = { kind: 'assigned' } | { kind: 'transferred'; from: Session['agent'] };

/**
 * A chat the server just gave me, which I did not take myself: a
 * `session-updated` that makes me its agent while I was not before, for a
 * session I did not ask to take. Null for anything else (my own take, an
 * update of a chat already mine, someone else's chat).
 */
export function arrivalFor(
  known: Session | null | undefined,
  next: Session,
  myId: string | null,
  takenByMe: ReadonlySet<string>,
): Arrival | null {
  if (!myId || next.status !== 'active' || next.agent?.id !== myId) return null;
  if (known?.status === 'active' && known.agent?.id === myId) return null;
  if (takenByMe.has(next.id)) return null;
  if (known?.status === 'active' && known.agent && known.agent.id !== myId) return { kind: 'transferred', from: known.agent };
  return { kind: 'assigned' };
}
