import { useEffect, useId, useState, type FormEvent } from 'react';
import type { ChatConnection } from '../chat/connection';
import { ChatError, type Rating, type RatingScore, type Session } from '../chat/protocol';
import {
  RATING_COMMENT_MAX,
  SCORES,
  canRate,
  commentLength,
  describeScore,
  ratePayload,
  rateErrorText,
  rateRefusal,
  scoreWord,
} from '../chat/ratings';
import { api } from '../lib/api';
import { RatingStars } from './RatingStars';
import '../ratings.css';

type Props = {
  session: Session;
  connection: ChatConnection | null;
  isConnected: boolean;
  token: string;
};

/**
 * After the chat is closed (PROTOCOL §10): five stars and an optional
 * comment, sent with `rate-session`; then "Thanks for your feedback" with
 * the rating. Nothing when the tenant turned ratings off. A session rated
 * already (another tab, a reload) shows the thanks with the stored rating.
 */
export function RatingPrompt({ session, connection, isConnected, token }: Props) {
  const id = useId();
  const [enabled, setEnabled] = useState<'unknown' | 'yes' | 'no'>('unknown');
  const [score, setScore] = useState<RatingScore | null>(null);
  const [hover, setHover] = useState<RatingScore | null>(null);
  const [comment, setComment] = useState('');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [stored, setStored] = useState<Rating | null>(null);
  const rating = session.rating ?? stored;
  const open = canRate(session) && !stored;

  // Are ratings on? A customer cannot read the tenant's settings, but the
  // server checks `rate-session` in a documented order (the session, the
  // customer, ratings enabled, then the payload) and changes nothing on a
  // refusal: a score of 0 is refused with `forbidden` when ratings are off
  // and `invalid_payload` when they are on. So the prompt shows only when it
  // can be used.
  useEffect(() => {
    if (!open || enabled !== 'unknown' || !connection || !isConnected) return;
    let cancelled = false;
    connection
      .request<Session>('rate-session', { sessionId: session.id, score: 0 })
      .then((s) => {
        // Never accepted; should a server take it, what it stored is what counts.
        if (!cancelled && s?.rating) setStored(s.rating);
      })
      .catch((err: Error) => {
        if (!cancelled) setEnabled(err instanceof ChatError && err.code === 'forbidden' ? 'no' : 'yes');
      });
    return () => {
      cancelled = true;
    };
  }, [open, enabled, connection, isConnected, session.id]);

  if (rating) {
    return (
      <div className="rating-prompt rating-prompt--thanks" role="status" data-testid="rating-thanks">
        <p className="rating-prompt__title">Thanks for your feedback</p>
        <RatingStars rating={rating} withComment />
      </div>
    );
  }
  // Ratings off: nothing to show (the marker tells tests the answer came).
  if (open && enabled === 'no') return <div hidden data-testid="rating-unavailable" />;
  if (!open || enabled !== 'yes') return null;

  const shown = hover ?? score;
  const length = commentLength(comment);

  // Rated already (another tab): thank with what is stored.
  const showStored = async () => {
    try {
      const current = await api.getSession(token, session.id);
      if (current.rating) setStored(current.rating);
      else setError('This chat cannot be rated.');
    } catch (err) {
      setError(rateErrorText('internal', (err as Error).message));
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!score || length.over > 0 || !connection) return;
    setSending(true);
    setError(null);
    try {
      const updated = await connection.request<Session>('rate-session', ratePayload(session.id, score, comment));
      setStored(updated?.rating ?? { score, comment: comment.trim() || null, createdAt: new Date().toISOString() });
    } catch (err) {
      const code = err instanceof ChatError ? err.code : 'internal';
      const outcome = rateRefusal(code);
      if (outcome === 'hide') setEnabled('no');
      else if (outcome === 'rated') await showStored();
      else setError(rateErrorText(code, (err as Error).message));
    } finally {
      setSending(false);
    }
  };

  return (
    <form className="rating-prompt" onSubmit={submit} aria-labelledby={`${id}-title`} data-testid="rating-prompt">
      <fieldset className="rating-prompt__scores" disabled={sending}>
        <legend id={`${id}-title`} className="rating-prompt__title">
          How was your chat?
        </legend>
        <div className="rating-input" onMouseLeave={() => setHover(null)}>
          {SCORES.map((n) => (
            <label
              key={n}
              className={`rating-input__star${shown !== null && n <= shown ? ' rating-input__star--on' : ''}${hover !== null ? ' rating-input__star--preview' : ''}`}
              onMouseEnter={() => setHover(n)}
              data-testid="rating-star"
              data-score={n}
            >
              <input
                type="radio"
                name={`${id}-score`}
                value={n}
                checked={score === n}
                onChange={() => setScore(n)}
                aria-label={`${describeScore(n)}: ${scoreWord(n)}`}
              />
              <span aria-hidden="true">★</span>
            </label>
          ))}
          <span className="rating-input__word" aria-hidden="true" data-testid="rating-word">
            {shown ? scoreWord(shown) : 'Choose a score'}
          </span>
        </div>
      </fieldset>
      <div className="field rating-prompt__comment">
        <label htmlFor={`${id}-comment`}>
          Comment <span className="muted">(optional)</span>
        </label>
        <textarea
          id={`${id}-comment`}
          rows={2}
          value={comment}
          onChange={(e) => setComment(e.target.value)}
          aria-describedby={`${id}-count`}
          aria-invalid={length.over > 0 ? true : undefined}
          disabled={sending}
        />
        <span
          id={`${id}-count`}
          className={`rating-prompt__count small${length.over > 0 ? ' rating-prompt__count--over' : ''}`}
          data-testid="rating-count"
        >
          {length.over > 0
            ? `${length.over} ${length.over === 1 ? 'character' : 'characters'} too long (${length.length}/${RATING_COMMENT_MAX})`
            : `${length.length}/${RATING_COMMENT_MAX}`}
        </span>
      </div>
      {error ? (
        <p className="form__error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" className="btn btn--primary btn--small" disabled={!score || length.over > 0 || sending || !isConnected}>
        {sending ? 'Sending…' : 'Submit'}
      </button>
    </form>
  );
}
