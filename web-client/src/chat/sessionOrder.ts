// Which of two snapshots of a session is the newer one. Events, acks and
// REST answers can arrive out of order (a join's ack is sent after the
// server lets go of the session, so an agent taking it in between is heard
// first), and snapshots carry no version: the status is what orders them.

import type { Session } from './protocol';

const STATUS_RANK: Record<Session['status'], number> = { pending: 0, active: 1, closed: 2 };

/**
 * True when `next` should replace `known`. A session moves forward
 * (pending -> active -> closed) with one exception (v1.3): a transfer back
 * to the queue turns `active` into `pending` again. Such a session keeps its
 * `assignedAt`, which a session that was never taken does not have, so an
 * old pending snapshot never undoes a take. A rating (v1.3) is the last
 * change a session sees: a snapshot without it never replaces one with it.
 */
export function supersedes(known: Session | null | undefined, next: Session): boolean {
  if (!known) return true;
  if (known.rating && !next.rating) return false;
  if (STATUS_RANK[next.status] >= STATUS_RANK[known.status]) return true;
  return known.status === 'active' && next.status === 'pending' && next.assignedAt !== null;
}
