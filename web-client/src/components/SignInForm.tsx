import { useId, useState, type FormEvent } from 'react';

type Props = {
  title: string;
  intro: string;
  label: string;
  submitLabel: string;
  busy?: boolean;
  error?: string | null;
  onSubmit: (name: string) => void;
};

/** The demo sign-in: a display name, turned into a development token. */
export function SignInForm({ title, intro, label, submitLabel, busy, error, onSubmit }: Props) {
  const [name, setName] = useState('');
  const id = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) onSubmit(name.trim());
  };
  return (
    <form className="card form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="card__title">
        {title}
      </h2>
      <p className="muted">{intro}</p>
      <div className="field">
        <label htmlFor={`${id}-name`}>{label}</label>
        <input
          id={`${id}-name`}
          name="name"
          autoComplete="name"
          required
          maxLength={80}
          value={name}
          onChange={(e) => setName(e.target.value)}
          autoFocus
        />
      </div>
      {error ? (
        <p className="form__error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" className="btn btn--primary" disabled={busy || !name.trim()}>
        {busy ? 'Signing in…' : submitLabel}
      </button>
    </form>
  );
}
