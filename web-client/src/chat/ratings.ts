// The pure rules of ratings as the pages show them (PROTOCOL §10): the
// scores and their words, the comment's limit as the server counts it, the
// `rate-session` payload, what a refusal means for the prompt, and the
// dashboard's "4.6 ★ (12 today)". No React, no socket: unit-tested alone
// (test/ratings.test.ts).

import type { ErrorCode, RatingScore, Session } from './protocol';

export const SCORES: readonly RatingScore[] = [1, 2, 3, 4, 5];

/** The server's limit on a comment, in characters, after trimming. */
export const RATING_COMMENT_MAX = 1000;

const SCORE_WORDS: Record<RatingScore, string> = {
  1: 'Very bad',
  2: 'Bad',
  3: 'Okay',
  4: 'Good',
  5: 'Excellent',
};

export function isScore(value: unknown): value is RatingScore {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 5;
}

/** 4 -> "Good". */
export function scoreWord(score: RatingScore): string {
  return SCORE_WORDS[score];
}

/** 4 -> "4 out of 5 stars", 1 -> "1 out of 5 stars" (what a screen reader says for the stars). */
export function describeScore(score: number): string {
  return `${score} out of 5 ${score === 1 ? 'star' : 'stars'}`;
}

/** 4 -> "★★★★☆". */
export function starsText(score: number): string {
  const full = Math.max(0, Math.min(5, Math.round(score)));
  return '★'.repeat(full) + '☆'.repeat(5 - full);
}

/**
 * The comment's length as the server counts it: characters (code points,
 * so an emoji is one) of the trimmed text, against the limit.
 */
export function commentLength(comment: string): { length: number; max: number; over: number } {
  const length = [...comment.trim()].length;
  return { length, max: RATING_COMMENT_MAX, over: Math.max(0, length - RATING_COMMENT_MAX) };
}

export type RatePayload = { sessionId: string; score: RatingScore; comment?: string };

/** The `rate-session` payload: the comment trimmed, and left out when empty. */
export function ratePayload(sessionId: string, score: RatingScore, comment: string): RatePayload {
  const trimmed = comment.trim();
  return trimmed ? { sessionId, score, comment: trimmed } : { sessionId, score };
}

/** Whether the widget may offer the prompt: a closed session nobody rated yet. */
export function canRate(session: Pick<Session, 'status' | 'rating'>): boolean {
  return session.status === 'closed' && !session.rating;
}

/**
 * What a refused `rate-session` means for the prompt:
 * - `hide`: ratings are off for this tenant (`forbidden`): no prompt at all;
 * - `rated`: the session has a rating already, or is not closed (`conflict`):
 *   read the stored Session, and thank with its rating when it has one;
 * - `retry`: the rating did not go through (too long, offline, busy): say why, keep the form.
 */
export function rateRefusal(code: ErrorCode | 'timeout' | 'network'): 'hide' | 'rated' | 'retry' {
  if (code === 'forbidden') return 'hide';
  if (code === 'conflict') return 'rated';
  return 'retry';
}

/** A refusal of the `retry` kind in words. */
export function rateErrorText(code: ErrorCode | 'timeout' | 'network', message: string): string {
  switch (code) {
    case 'invalid_payload':
      return `Your rating was not accepted: ${message}`;
    case 'network':
    case 'timeout':
      return 'Your rating could not be sent (connection trouble). Please try again.';
    case 'rate_limited':
      return 'Too many attempts: please wait a moment and try again.';
    default:
      return `Your rating could not be sent: ${message}`;
  }
}

/** 4.6 -> "4.6 ★", 4.67 -> "4.7 ★", 5 -> "5.0 ★", null -> "—". */
export function formatAverageRating(avg: number | null | undefined): string {
  if (avg === null || avg === undefined || !Number.isFinite(avg)) return '—';
  return `${avg.toFixed(1)} ★`;
}

/** The dashboard's figure in two parts, "4.6 ★" and "(12 today)"; "—" and "(0 today)" when nobody rated. */
export function ratingSummary(count: number, avg: number | null | undefined): { average: string; count: string } {
  return { average: formatAverageRating(count > 0 ? avg : null), count: `(${count} today)` };
}

/** The same in one line: "4.6 ★ (12 today)", "— (0 today)". */
export function formatRatingSummary(count: number, avg: number | null | undefined): string {
  const parts = ratingSummary(count, avg);
  return `${parts.average} ${parts.count}`;
}
