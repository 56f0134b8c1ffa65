import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

type Props = {
  onSend: (text: string) => void;
  onTyping: (isTyping: boolean) => void;
  disabled?: boolean;
  disabledReason?: string;
  placeholder?: string;
  autoFocus?: boolean;
  maxLength?: number;
};

/** The message box: Enter sends, Shift+Enter starts a new line. */
export function Composer({ onSend, onTyping, disabled, disabledReason, placeholder, autoFocus, maxLength = 4000 }: Props) {
  const [text, setText] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  const id = useId();

  useEffect(() => {
    if (autoFocus && !disabled) ref.current?.focus();
  }, [autoFocus, disabled]);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const content = text.trim();
    if (!content || disabled) return;
    onSend(content);
    setText('');
    ref.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor={id} className="visually-hidden">
        Message
      </label>
      <textarea
        id={id}
        ref={ref}
        className="composer__input"
        rows={1}
        value={text}
        maxLength={maxLength}
        placeholder={disabled ? disabledReason : (placeholder ?? 'Type a message…')}
        disabled={disabled}
        onChange={(e) => {
          setText(e.target.value);
          onTyping(e.target.value.length > 0);
        }}
        onBlur={() => onTyping(false)}
        onKeyDown={onKeyDown}
        aria-describedby={`${id}-hint`}
      />
      <span id={`${id}-hint`} className="visually-hidden">
        Press Enter to send, Shift+Enter for a new line.
      </span>
      <button type="submit" className="btn btn--primary composer__send" disabled={disabled || !text.trim()}>
        Send
      </button>
    </form>
  );
}
