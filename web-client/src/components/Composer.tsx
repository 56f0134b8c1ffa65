import { useEffect, useId, useRef, useState, type ClipboardEvent, type FormEvent, type KeyboardEvent } from 'react';
import type { UseUploadsResult } from '../hooks/useUploads';
import { AttachmentPicker } from './AttachmentPicker';
import { UploadList } from './UploadList';

type Props = {
  /** The text (may be empty when the draft has attachments) and the draft's uploaded attachments. */
  onSend: (text: string, attachments: UseUploadsResult['ready']) => void;
  onTyping: (isTyping: boolean) => void;
  /** The attachments draft (v1.3); without it, no paperclip. */
  uploads?: UseUploadsResult;
  disabled?: boolean;
  disabledReason?: string;
  placeholder?: string;
  autoFocus?: boolean;
  maxLength?: number;
};

/**
 * The message box: Enter sends, Shift+Enter starts a new line. With an
 * attachments draft: the paperclip, pasted files, and the files being
 * uploaded above the box; Send waits until every upload is done.
 */
export function Composer({ onSend, onTyping, uploads, disabled, disabledReason, placeholder, autoFocus, maxLength = 4000 }: Props) {
  const [text, setText] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  const id = useId();

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
    onSend(content, attachments);
    setText('');
    ref.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
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
    <form className="composer" onSubmit={submit} aria-busy={uploading || undefined}>
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
          }}
          onBlur={() => onTyping(false)}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          aria-describedby={`${id}-hint`}
        />
        <span id={`${id}-hint`} className="visually-hidden">
          Press Enter to send, Shift+Enter for a new line.
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
