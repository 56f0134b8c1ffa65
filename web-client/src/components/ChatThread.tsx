import { useEffect, useState } from 'react';
import { isStaff } from '../chat/protocol';
import { newestUnreadFromOtherSide } from '../chat/timeline';
import { useAgentTools } from '../hooks/useAgentTools';
import type { UseChatSocketResult } from '../hooks/useChatSocket';
import { useFileDrop } from '../hooks/useFileDrop';
import { useUploads } from '../hooks/useUploads';
import { Composer } from './Composer';
import { MessageList } from './MessageList';
import { TypingIndicator } from './TypingIndicator';

type Props = {
  chat: UseChatSocketResult;
  emptyText?: string;
  placeholder?: string;
  autoFocus?: boolean;
  /** v1.3, the agent's console: private notes, the Reply/Note switch, canned responses (never in the widget). */
  agentTools?: boolean;
};

/**
 * Messages, typing indicator and composer of one session, wired to a
 * useChatSocket result. Marks the other side's messages read when they are
 * on screen: the tab visible and the list scrolled to the newest message.
 * Files dropped anywhere on it join the message being written (v1.3).
 */
export function ChatThread({ chat, emptyText, placeholder, autoFocus, agentTools = false }: Props) {
  const { messages, user, joined, session, markRead } = chat;
  const [atBottom, setAtBottom] = useState(true);
  const [visible, setVisible] = useState(() => document.visibilityState === 'visible');

  useEffect(() => {
    const onChange = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', onChange);
    return () => document.removeEventListener('visibilitychange', onChange);
  }, []);

  const unread = user ? newestUnreadFromOtherSide(messages, isStaff(user.role)) : null;
  useEffect(() => {
    if (!unread || !joined || !visible || !atBottom) return;
    markRead(unread.id).catch(() => {
      // Not fatal: the next message or reconnect tries again.
    });
  }, [unread, joined, visible, atBottom, markRead]);

  const closed = session?.status === 'closed';
  const uploads = useUploads({ sessionId: chat.session?.id, token: chat.token, serverUrl: chat.serverUrl });
  const tools = useAgentTools(chat, agentTools);
  const drop = useFileDrop(uploads.add, !closed && uploads.enabled && tools.mode === 'reply');

  return (
    <div className={`thread${drop.dragging ? ' thread--dragging' : ''}`} {...drop.handlers} data-testid="thread">
      {drop.dragging ? (
        <div className="drop-zone" data-testid="drop-zone" aria-hidden="true">
          <span>Drop files to attach them</span>
        </div>
      ) : null}
      <MessageList
        messages={messages}
        notes={tools.notes}
        myId={user?.id ?? null}
        serverUrl={chat.serverUrl}
        onRetry={chat.retryMessage}
        onDiscard={chat.discardMessage}
        onAtBottomChange={setAtBottom}
        emptyText={emptyText}
      />
      <TypingIndicator users={chat.typingUsers} />
      <Composer
        onSend={chat.sendMessage}
        onTyping={chat.sendTyping}
        uploads={uploads}
        disabled={closed}
        disabledReason="This chat is closed"
        placeholder={placeholder}
        autoFocus={autoFocus}
        {...tools.composer}
      />
    </div>
  );
}

/** The last error of the chat (a refused event, a lost connection), if any. */
export function ChatError({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <div className="banner banner--error" role="alert">
      {error}
    </div>
  );
}
