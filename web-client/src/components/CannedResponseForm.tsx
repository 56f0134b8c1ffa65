import { useId, useState, type FormEvent } from 'react';
import { checkDraft, describeCannedError, SHORTCUT_HELP, TITLE_MAX, type CannedBody, type CannedDraft, type CannedDraftErrors } from '../chat/canned';
import { ChatError } from '../chat/protocol';
import './agentTools.css';

type Props = {
  initial: CannedDraft;
  submitLabel: string;
  /** Stores the draft (POST or PATCH); rejects with the server's refusal. */
  onSubmit: (body: CannedBody) => Promise<unknown>;
  onCancel: () => void;
};

/**
 * A canned response being created or edited (settings page, admins): the
 * shortcut with the server's rule as help, an optional title, the text with
 * its placeholders. The server's refusals show on the field they concern
 * ("That shortcut is taken.") or under the form.
 */
export function CannedResponseForm({ initial, submitLabel, onSubmit, onCancel }: Props) {
  const id = useId();
  const [draft, setDraft] = useState(initial);
  const [errors, setErrors] = useState<CannedDraftErrors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const change = (patch: Partial<CannedDraft>) => setDraft((d) => ({ ...d, ...patch }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { body, errors: found } = checkDraft(draft);
    setErrors(found);
    setServerError(null);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await onSubmit(body);
    } catch (err) {
      const message = describeCannedError(err);
      if (err instanceof ChatError && err.code === 'conflict') setErrors({ shortcut: message });
      else if (err instanceof ChatError && err.code === 'message_too_long') setErrors({ content: message });
      else setServerError(message);
    } finally {
      setBusy(false);
    }
  };

  const describedBy = (field: keyof CannedDraft, hint?: string) =>
    [hint, errors[field] ? `${id}-${field}-error` : null].filter(Boolean).join(' ') || undefined;
  const fieldError = (field: keyof CannedDraft) =>
    errors[field] ? (
      <span id={`${id}-${field}-error`} className="field__error" role="alert" data-testid={`canned-${field}-error`}>
        {errors[field]}
      </span>
    ) : null;

  return (
    <form className="canned-form form" onSubmit={submit} noValidate aria-label={submitLabel} data-testid="canned-form">
      <fieldset className="settings__all" disabled={busy}>
        <legend className="visually-hidden">{submitLabel}</legend>
        <div className="field">
          <label htmlFor={`${id}-shortcut`}>Shortcut</label>
          <input
            id={`${id}-shortcut`}
            className="field__short"
            value={draft.shortcut}
            onChange={(e) => change({ shortcut: e.target.value })}
            placeholder="refund"
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
            maxLength={33}
            aria-invalid={errors.shortcut ? true : undefined}
            aria-describedby={describedBy('shortcut', `${id}-shortcut-hint`)}
          />
          <span id={`${id}-shortcut-hint`} className="field__hint">
            Agents type <code>/{draft.shortcut.trim().replace(/^\//, '') || 'shortcut'}</code> in a chat. {SHORTCUT_HELP}
          </span>
          {fieldError('shortcut')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-title`}>
            Title <span className="muted">(optional)</span>
          </label>
          <input
            id={`${id}-title`}
            value={draft.title}
            onChange={(e) => change({ title: e.target.value })}
            maxLength={TITLE_MAX}
            aria-invalid={errors.title ? true : undefined}
            aria-describedby={describedBy('title')}
          />
          {fieldError('title')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-content`}>Text</label>
          <textarea
            id={`${id}-content`}
            rows={4}
            value={draft.content}
            onChange={(e) => change({ content: e.target.value })}
            aria-invalid={errors.content ? true : undefined}
            aria-describedby={describedBy('content', `${id}-content-hint`)}
          />
          <span id={`${id}-content-hint`} className="field__hint">
            <code>{'{{customer.name}}'}</code> and <code>{'{{agent.name}}'}</code> are replaced by the customer's and the agent's
            names when an agent inserts it.
          </span>
          {fieldError('content')}
        </div>
      </fieldset>
      {serverError ? (
        <p className="form__error" role="alert" data-testid="canned-error">
          {serverError}
        </p>
      ) : null}
      <div className="settings__actions">
        <button type="submit" className="btn btn--primary btn--small" disabled={busy}>
          {busy ? 'Saving…' : submitLabel}
        </button>
        <button type="button" className="btn btn--ghost btn--small" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
