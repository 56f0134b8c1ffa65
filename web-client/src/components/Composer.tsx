import { useEffect, useId, useRef, useState, type ClipboardEvent, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import type { CannedResponse } from '../chat/protocol';
import { useCannedPicker } from '../hooks/useCannedPicker';
import type { UseUploadsResult } from '../hooks/useUploads';
import { AttachmentPicker } from './AttachmentPicker';
import { CannedPicker } from './CannedPicker';
import { UploadList } from './UploadList';

type Props = {
  /**
   * The text (may be empty when the draft has attachments) and the draft's
   * uploaded attachments. A returned promise that rejects puts the text back.
   */
  onSend: (text: string, attachments: UseUploadsResult['ready']) => unknown;
  onTyping: (isTyping: boolean) => void;
  /** The attachments draft (v1.3); without it, no paperclip. */
  uploads?: UseUploadsResult;
  disabled?: boolean;
  disabledReason?: string;
  placeholder?: string;
  autoFocus?: boolean;
  maxLength?: number;
  /** v1.3 agent tools: above the box (the Reply/Note switch). */
  toolbar?: ReactNode;
  /** v1.3: 'note' is the yellow private-note box (§10). */
  variant?: 'reply' | 'note';
  /** v1.3: the tenant's canned responses, offered after a `/`, and how to fill their placeholders. */
  canned?: { responses: readonly CannedResponse[] | null; fill: (content: string) => string };
};

/**
 * The message box: Enter sends, Shift+Enter starts a new line. With an
 * attachments draft: the paperclip, pasted files, and the files being
 * uploaded above the box; Send waits until every upload is done.
 */
export function Composer({ onSend, onTyping, uploads, disabled, disabledReason, placeholder, autoFocus, maxLength = 4000, toolbar, variant, canned }: Props) {
  const [text, setText] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  const picker = useCannedPicker({ responses: canned?.responses ?? null, fill: canned?.fill ?? ((c) => c), text, setText, inputRef: ref });

  useEffect(() => {
    if (autoFocus && !disabled) ref.current?.focus();
  }, [autoFocus, disabled]);

  const uploading = uploads?.uploading ?? false;
  const hasAttachments = (uploads?.ready.length ?? 0) > 0;
  const canSend = !disabled && !uploading && (text.trim().length > 0 || hasAttachments);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSend) return;
    const attachments = uploads?.takeReady() ?? [];
    const content = text.trim();
    if (!content && attachments.length === 0) return;
    const sent = onSend(content, attachments);
    setText('');
    // Refused (a note the server did not store): the text comes back, unless a new one was started.
    if (sent instanceof Promise) sent.catch(() => setText((current) => current || content));
    ref.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (picker.onKeyDown(event)) return;
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  // A pasted screenshot (or copied files) joins the draft like a chosen file.
  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    if (!uploads?.enabled || disabled) return;
    const files = Array.from(event.clipboardData?.files ?? []);
    if (files.length === 0) return;
    event.preventDefault();
    uploads.add(files);
  };

  return (
    <form className={`composer${variant === 'note' ? ' composer--note' : ''}`} onSubmit={submit} aria-busy={uploading || undefined}>
      {toolbar}
      <CannedPicker picker={picker} />
      {uploads ? <UploadList items={uploads.items} onRemove={uploads.remove} /> : null}
      <div className="composer__row">
        {uploads ? <AttachmentPicker onFiles={uploads.add} disabled={disabled || !uploads.enabled} /> : null}
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
            picker.track(e.target.value, e.target.selectionStart);
          }}
          onSelect={(e) => picker.track(e.currentTarget.value, e.currentTarget.selectionStart)}
          onFocus={picker.onFocus}
          onBlur={() => {
            onTyping(false);
            picker.onBlur();
          }}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          aria-describedby={`${id}-hint`}
          {...picker.inputProps}
        />
        <span id={`${id}-hint`} className="visually-hidden">
          {variant === 'note' ? 'A private note: only agents see it. ' : ''}
          Press Enter to send, Shift+Enter for a new line.
          {canned ? ' Type / for canned responses.' : ''}
          {uploads ? ' Attach files with the paperclip, by pasting, or by dropping them on the chat.' : ''}
        </span>
        <button
          type="submit"
          className="btn btn--primary composer__send"
          disabled={!canSend}
          title={uploading ? 'Waiting for the uploads to finish' : undefined}
        >
          Send
        </button>
      </div>
      {uploading ? (
        <span className="visually-hidden" role="status">
          Uploading: Send is available when every file is uploaded.
        </span>
      ) : null}
    </form>
  );
}
