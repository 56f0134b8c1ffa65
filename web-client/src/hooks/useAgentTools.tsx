// The agent's tools in a chat thread (PROTOCOL §10), as what ChatThread
// hands to its MessageList and Composer: the private notes for the list;
// for the composer the Reply/Note switch, and in Note mode the yellow box
// that sends `add-note` (no typing indicator for the customer, no
// attachments, allowed on a closed chat), and in both modes the canned
// responses after a `/`. Disabled (the customer's widget): nothing at all.

import { useCallback, useMemo, useState } from 'react';
import { fillPlaceholders, placeholderValues } from '../chat/canned';
import type { Note } from '../chat/protocol';
import type { Composer } from '../components/Composer';
import { ComposerModeSwitch, type ComposerMode } from '../components/ComposerModeSwitch';
import { useCannedResponses } from './useCannedResponses';
import type { UseChatSocketResult } from './useChatSocket';

type ComposerProps = Partial<Parameters<typeof Composer>[0]>;

export type AgentTools = {
  mode: ComposerMode;
  /** For MessageList; undefined when disabled (no note is ever shown). */
  notes: Note[] | undefined;
  /** Spread on the Composer after its own props: they take precedence. */
  composer: ComposerProps;
};

export function useAgentTools(chat: UseChatSocketResult, enabled: boolean): AgentTools {
  const [mode, setMode] = useState<ComposerMode>('reply');
  const [noteError, setNoteError] = useState<string | null>(null);
  const canned = useCannedResponses(chat.token, chat.serverUrl, enabled);
  const { addNote, sendTyping, session, user } = chat;

  const customer = session?.customer;
  const fill = useCallback((content: string) => fillPlaceholders(content, placeholderValues(customer, user)), [customer, user]);

  const switchMode = useCallback(
    (next: ComposerMode) => {
      // Writing a note is nothing the customer should see as "typing…".
      if (next === 'note') sendTyping(false);
      setNoteError(null);
      setMode(next);
    },
    [sendTyping],
  );

  const saveNote = useCallback(
    async (text: string) => {
      setNoteError(null);
      try {
        return await addNote(text);
      } catch (err) {
        setNoteError((err as Error).message);
        throw err;
      }
    },
    [addNote],
  );

  const composer = useMemo<ComposerProps>(() => {
    if (!enabled) return {};
    const shared: ComposerProps = {
      toolbar: <ComposerModeSwitch mode={mode} onChange={switchMode} error={mode === 'note' ? noteError : null} />,
      canned: { responses: canned.items, fill },
      variant: mode,
    };
    if (mode === 'reply') return shared;
    return {
      ...shared,
      onSend: saveNote,
      onTyping: () => {},
      uploads: undefined,
      disabled: false,
      placeholder: 'Private note for agents…',
    };
  }, [enabled, mode, switchMode, noteError, canned.items, fill, saveNote]);

  return { mode, notes: enabled ? chat.notes : undefined, composer };
}
