// Typing indicators of one session, both directions: what this user tells
// the room (sent on change, refreshed while it lasts, stopped after a
// quiet spell) and who else is typing (each flag expires by itself in case
// "stopped" never comes).

import type { UserRef } from './protocol';

/** While typing, "still typing" is repeated this often (the server forgets after 5 s). */
const REFRESH_MS = 2500;
/** A remote typing flag older than this is dropped even if "stopped" never came. */
const REMOTE_TTL_MS = 6000;

/** This user's own typing state, turned into `typing` events. */
export class OwnTyping {
  private typing = false;
  private sentAt = 0;
  private stopTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly send: (isTyping: boolean) => void,
    private readonly timeoutMs: number,
  ) {}

  /** `true` on every keystroke is cheap; `false` (or the timeout) ends it. */
  set(isTyping: boolean): void {
    this.clearTimer();
    if (isTyping) {
      const now = Date.now();
      if (!this.typing || now - this.sentAt > REFRESH_MS) {
        this.sentAt = now;
        this.send(true);
      }
      this.typing = true;
      this.stopTimer = setTimeout(() => this.set(false), this.timeoutMs);
    } else if (this.typing) {
      this.typing = false;
      this.send(false);
    }
  }

  /** The connection went: the server clears our flag itself, nothing to send. */
  forget(): void {
    this.clearTimer();
    this.typing = false;
  }

  get active(): boolean {
    return this.typing;
  }

  private clearTimer(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = null;
  }
}

/** Who else is typing in the session. */
export class RemoteTyping {
  private readonly users = new Map<string, { user: UserRef; timer: ReturnType<typeof setTimeout> }>();

  /** @param onChange called when a flag expires by itself */
  constructor(private readonly onChange: () => void) {}

  update(user: UserRef, isTyping: boolean): void {
    this.remove(user.id);
    if (!isTyping) return;
    const timer = setTimeout(() => {
      this.users.delete(user.id);
      this.onChange();
    }, REMOTE_TTL_MS);
    this.users.set(user.id, { user, timer });
  }

  /** Returns true when the user was shown as typing. */
  remove(userId: string): boolean {
    const entry = this.users.get(userId);
    if (!entry) return false;
    clearTimeout(entry.timer);
    this.users.delete(userId);
    return true;
  }

  clear(): void {
    for (const { timer } of this.users.values()) clearTimeout(timer);
    this.users.clear();
  }

  list(): UserRef[] {
    return [...this.users.values()].map((t) => t.user);
  }
}
