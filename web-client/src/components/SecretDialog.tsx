import { useEffect, useId, useRef, useState } from 'react';

type Props = {
  title: string;
  /** What the value is ("API key", "Signing secret"), the label of its box. */
  label: string;
  value: string;
  /** What to do with it, under the box. */
  hint: string;
  onClose: () => void;
  testId: string;
};

/**
 * A secret the server shows once (a new API key, a webhook's signing
 * secret): in a modal <dialog> with a Copy button and a plain warning that
 * it will not be shown again. Escape or Done closes it.
 */
export function SecretDialog({ title, label, value, hint, onClose, testId }: Props) {
  const id = useId();
  const ref = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    input.current?.select();
    return () => dialog?.close();
  }, []);

  const copy = async () => {
    try {
      // Only in secure contexts (https, localhost); a demo at http://192.168.x.y falls back below.
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      input.current?.select();
      setCopied(document.execCommand?.('copy') ? 'yes' : 'no');
    }
  };

  return (
    <dialog
      ref={ref}
      className="dialog secret-dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-warning`}
      data-testid={testId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div className="dialog__header">
        <h2 id={`${id}-title`} className="dialog__title">
          {title}
        </h2>
      </div>
      <p id={`${id}-warning`} className="banner banner--info banner--boxed secret-dialog__warning">
        Copy it now: you will not see it again. Switchboard keeps only a hash of it.
      </p>
      <div className="field">
        <label htmlFor={`${id}-value`}>{label}</label>
        <div className="secret-dialog__row">
          <input
            ref={input}
            id={`${id}-value`}
            className="secret-dialog__value"
            readOnly
            value={value}
            spellCheck={false}
            onFocus={(e) => e.currentTarget.select()}
            data-testid="secret-value"
          />
          <button type="button" className="btn btn--primary btn--small" onClick={() => void copy()}>
            Copy
          </button>
        </div>
        <span className="field__hint" role="status" data-testid="secret-copied">
          {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'Select it and copy it (Ctrl+C or ⌘C).' : ''}
        </span>
      </div>
      <p className="muted small">{hint}</p>
      <div className="dialog__actions">
        <span className="dialog__spacer" />
        <button type="button" className="btn btn--ghost" onClick={onClose}>
          Done
        </button>
      </div>
    </dialog>
  );
}
