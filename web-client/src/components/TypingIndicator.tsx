import type { UserRef } from '../chat/protocol';
import { displayName } from '../lib/format';

/** "Ana is typing…" under the messages; an empty live region otherwise. */
export function TypingIndicator({ users }: { users: UserRef[] }) {
  const text =
    users.length === 0
      ? ''
      : users.length === 1
        ? `${displayName(users[0])} is typing…`
        : `${users.map((u) => displayName(u)).join(', ')} are typing…`;
  return (
    <div className="typing" aria-live="polite" data-testid="typing-indicator">
      {text ? (
        <>
          <span className="typing__dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {text}
        </>
      ) : null}
    </div>
  );
}
