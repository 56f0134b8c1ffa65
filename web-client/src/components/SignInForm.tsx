import { useId, useState, type FormEvent } from 'react';

type Props = {
  title: string;
  intro: string;
  label: string;
  submitLabel: string;
  busy?: boolean;
  error?: string | null;
  /** Offer "sign in as an administrator" (the staff pages; demo tokens only). */
  adminOption?: boolean;
  adminByDefault?: boolean;
  onSubmit: (name: string, asAdmin: boolean) => void;
};

/** The demo sign-in: a display name, turned into a development token. */
export function SignInForm({ title, intro, label, submitLabel, busy, error, adminOption, adminByDefault, onSubmit }: Props) {
  const [name, setName] = useState('');
  const [asAdmin, setAsAdmin] = useState(Boolean(adminByDefault));
  const id = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) onSubmit(name.trim(), adminOption ? asAdmin : false);
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
      {adminOption ? (
        <label className="check">
          <input type="checkbox" checked={asAdmin} onChange={(e) => setAsAdmin(e.target.checked)} />
          <span>
            Sign in as an administrator <span className="muted">(settings, agents' capacities)</span>
          </span>
        </label>
      ) : null}
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
