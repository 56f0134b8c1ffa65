import { useId, useState } from 'react';
import type { Availability } from '../chat/protocol';
import { formatLoad } from '../chat/routing';
import type { ChatConnectionState } from '../hooks/useChatConnection';

const CHOICES: { value: Availability; label: string }[] = [
  { value: 'available', label: 'Available' },
  { value: 'away', label: 'Away' },
];

/**
 * The agent's own routing state (PROTOCOL §7): available or away
 * (`set-availability`), and their load, "3 of 5 chats". Shown only when the
 * server sent an AgentState (v1.3).
 */
export function AvailabilityControl({ conn }: { conn: ChatConnectionState }) {
  const id = useId();
  // The choice shows at once; a refusal puts the server's value back.
  const [choosing, setChoosing] = useState<Availability | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { agent, connection, isConnected } = conn;
  if (!agent || !connection) return null;

  const shown = choosing ?? agent.availability;

  const choose = async (status: Availability) => {
    if (status === shown) return;
    setChoosing(status);
    setError(null);
    try {
      await connection.setAvailability(status);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setChoosing(null);
    }
  };

  return (
    <div className="availability" data-testid="availability" data-availability={agent.availability}>
      <fieldset className="segmented" disabled={!isConnected} aria-busy={choosing ? true : undefined}>
        <legend className="visually-hidden">Your availability for new chats</legend>
        {CHOICES.map((c) => (
          <label key={c.value} className={`segmented__option segmented__option--${c.value}`}>
            <input
              type="radio"
              name={`${id}-availability`}
              value={c.value}
              checked={shown === c.value}
              onChange={() => void choose(c.value)}
            />
            <span>{c.label}</span>
          </label>
        ))}
      </fieldset>
      <span className="availability__load" data-testid="my-load" aria-label={`Your load: ${formatLoad(agent)}`}>
        {formatLoad(agent)}
      </span>
      {error ? (
        <p className="form__error small availability__error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}
