import { useId } from 'react';
import './agentTools.css';

export type ComposerMode = 'reply' | 'note';

const CHOICES: { value: ComposerMode; label: string }[] = [
  { value: 'reply', label: 'Reply' },
  { value: 'note', label: 'Note' },
];

type Props = {
  mode: ComposerMode;
  onChange: (mode: ComposerMode) => void;
  /** Why the last note was not saved, if it was not. */
  error?: string | null;
};

/**
 * Reply or private note (PROTOCOL §10), above the agent's message box: a
 * radio group styled as a segmented control, so the arrow keys switch
 * between the two like any radio group.
 */
export function ComposerModeSwitch({ mode, onChange, error }: Props) {
  const id = useId();
  return (
    <div className="composer-mode" data-testid="composer-mode" data-mode={mode}>
      <fieldset className="segmented segmented--compact">
        <legend className="visually-hidden">Write a reply to the customer or a private note</legend>
        {CHOICES.map((c) => (
          <label key={c.value} className={`segmented__option segmented__option--${c.value}`}>
            <input type="radio" name={`${id}-mode`} value={c.value} checked={mode === c.value} onChange={() => onChange(c.value)} />
            <span>{c.label}</span>
          </label>
        ))}
      </fieldset>
      {mode === 'note' ? (
        <span className="composer-mode__label" data-testid="note-mode-label">
          Note — only agents see this
        </span>
      ) : null}
      {error ? (
        <p className="form__error small composer-mode__error" role="alert" data-testid="note-error">
          Note not saved: {error}
        </p>
      ) : null}
    </div>
  );
}
