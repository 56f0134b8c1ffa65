// The canned-responses picker of a composer, as React state: open while the
// caret is in a `/query` (chat/canned.ts), the matching responses, the
// highlighted one (Up/Down), Enter or a click inserting it with the
// placeholders filled in, Escape closing it until another `/` is typed.
// Without responses (the customer's widget) it never opens.

import { useCallback, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type RefObject } from 'react';
import { filterCanned, insertCanned, slashQueryAt } from '../chat/canned';
import type { CannedResponse } from '../chat/protocol';

export type CannedPickerOptions = {
  /** The tenant's responses; null: no picker at all. */
  responses: readonly CannedResponse[] | null;
  /** Fills the placeholders of a response's content. */
  fill: (content: string) => string;
  text: string;
  setText: (text: string) => void;
  inputRef: RefObject<HTMLTextAreaElement | null>;
};

export type CannedPicker = ReturnType<typeof useCannedPicker>;

export function useCannedPicker({ responses, fill, text, setText, inputRef }: CannedPickerOptions) {
  const listId = useId();
  const [caret, setCaret] = useState(0);
  const [focused, setFocused] = useState(false);
  // The highlighted row, for the query it was chosen in: a new query starts from the best match.
  const [highlight, setHighlight] = useState({ query: '', index: 0 });
  // Escape closes the picker for the `/` at this position, until it goes.
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  const caretAfterInsert = useRef<number | null>(null);

  const slash = responses ? slashQueryAt(text, caret) : null;
  const open = slash !== null && focused && slash.start !== dismissedAt;
  const query = slash?.query ?? '';
  const items = useMemo(() => (open && responses ? filterCanned(responses, query) : []), [open, responses, query]);
  const active = items.length ? Math.min(highlight.query === query ? highlight.index : 0, items.length - 1) : -1;
  const setHighlighted = useCallback((index: number) => setHighlight({ query, index }), [query]);

  // After an insert, the caret goes right after the inserted text.
  useLayoutEffect(() => {
    const at = caretAfterInsert.current;
    const el = inputRef.current;
    if (at === null || !el) return;
    caretAfterInsert.current = null;
    el.focus();
    el.setSelectionRange(at, at);
    setCaret(at);
  }, [text, inputRef]);

  /** The textarea's value and caret, after each change or caret move. */
  const track = useCallback(
    (value: string, at: number) => {
      setCaret(at);
      if (dismissedAt !== null && slashQueryAt(value, at)?.start !== dismissedAt) setDismissedAt(null);
    },
    [dismissedAt],
  );

  const choose = (index: number) => {
    const response = items[index];
    if (!response || !slash) return;
    const next = insertCanned(text, slash, fill(response.content));
    caretAfterInsert.current = next.caret;
    setText(next.text);
  };

  /** Handles the picker's keys; true when the event was the picker's (the composer then ignores it). */
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): boolean => {
    if (!open || !slash || event.nativeEvent.isComposing) return false;
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      setDismissedAt(slash.start);
      return true;
    }
    if (items.length === 0) return false;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setHighlighted((active + step + items.length) % items.length);
      return true;
    }
    if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
      event.preventDefault();
      choose(active);
      return true;
    }
    return false;
  };

  const optionId = (index: number) => `${listId}-option-${index}`;

  return {
    open,
    query,
    items,
    /** How many responses the tenant has. */
    total: responses?.length ?? 0,
    active,
    listId,
    optionId,
    setHighlighted,
    choose,
    onKeyDown,
    track,
    onFocus: () => setFocused(true),
    onBlur: () => setFocused(false),
    /** ARIA of the textarea while the list shows. */
    inputProps: {
      'aria-autocomplete': responses ? ('list' as const) : undefined,
      'aria-controls': open ? listId : undefined,
      'aria-activedescendant': open && active >= 0 ? optionId(active) : undefined,
    },
  };
}
