import { describe, expect, it } from 'vitest';
import type { Rating, Session } from '../src/chat/protocol';
import {
  canRate,
  commentLength,
  describeScore,
  formatAverageRating,
  formatRatingSummary,
  isScore,
  rateErrorText,
  ratePayload,
  rateRefusal,
  ratingSummary,
  scoreWord,
  starsText,
} from '../src/chat/ratings';
import { supersedes } from '../src/chat/sessionOrder';

const rating: Rating = { score: 4, comment: 'Quick and kind', createdAt: '2026-11-30T10:10:00.000Z' };

function closed(patch: Partial<Session> = {}): Session {
  return {
    id: 's1',
    status: 'closed',
    subject: null,
    customer: { id: 'c1', role: 'customer', name: 'Ana' },
    agent: { id: 'a1', role: 'agent', name: 'Bo' },
    createdAt: '2026-11-30T10:00:00.000Z',
    assignedAt: '2026-11-30T10:01:00.000Z',
    closedAt: '2026-11-30T10:09:00.000Z',
    closedBy: { id: 'a1', role: 'agent', name: 'Bo' },
    lastMessageAt: null,
    unreadCount: 0,
    rating: null,
    ...patch,
  };
}

describe('the dashboard figure', () => {
  it('reads as the average with one decimal and a star, then the count', () => {
    expect(formatRatingSummary(12, 4.6)).toBe('4.6 ★ (12 today)');
    expect(formatRatingSummary(3, 4.67)).toBe('4.7 ★ (3 today)');
    expect(formatRatingSummary(1, 5)).toBe('5.0 ★ (1 today)');
  });

  it('comes in two parts, the count set apart on the dashboard', () => {
    expect(ratingSummary(12, 4.6)).toEqual({ average: '4.6 ★', count: '(12 today)' });
  });

  it('shows a dash when nobody rated today', () => {
    expect(formatRatingSummary(0, null)).toBe('— (0 today)');
    // A stale average with no rating is not shown either.
    expect(formatRatingSummary(0, 4)).toBe('— (0 today)');
    expect(formatAverageRating(undefined)).toBe('—');
    expect(formatAverageRating(Number.NaN)).toBe('—');
  });
});

describe('scores', () => {
  it('accepts the integers 1 to 5 only', () => {
    expect([1, 2, 3, 4, 5].every(isScore)).toBe(true);
    expect([0, 6, 4.5, '4', null].some(isScore)).toBe(false);
  });

  it('has words, stars and a spoken form', () => {
    expect(scoreWord(1)).toBe('Very bad');
    expect(scoreWord(5)).toBe('Excellent');
    expect(starsText(4)).toBe('★★★★☆');
    expect(starsText(1)).toBe('★☆☆☆☆');
    expect(describeScore(1)).toBe('1 out of 5 star');
    expect(describeScore(3)).toBe('3 out of 5 stars');
  });
});

describe('the comment', () => {
  it('is counted as the server counts it: trimmed, in characters (an emoji is one)', () => {
    expect(commentLength('  hi  ')).toEqual({ length: 2, max: 1000, over: 0 });
    expect(commentLength('👍👍').length).toBe(2);
    expect(commentLength('x'.repeat(1000)).over).toBe(0);
    expect(commentLength('x'.repeat(1003)).over).toBe(3);
  });

  it('is trimmed in the payload, and left out when empty', () => {
    expect(ratePayload('s1', 4, '  Great help \n')).toEqual({ sessionId: 's1', score: 4, comment: 'Great help' });
    expect(ratePayload('s1', 5, '   ')).toEqual({ sessionId: 's1', score: 5 });
  });
});

describe('the prompt', () => {
  it('is offered for a closed session nobody rated', () => {
    expect(canRate(closed())).toBe(true);
    expect(canRate(closed({ rating: undefined }))).toBe(true);
    expect(canRate(closed({ rating }))).toBe(false);
    expect(canRate(closed({ status: 'active', closedAt: null, closedBy: null }))).toBe(false);
  });

  it('hides on forbidden (ratings off), reads the stored rating on conflict, and keeps the form otherwise', () => {
    expect(rateRefusal('forbidden')).toBe('hide');
    expect(rateRefusal('conflict')).toBe('rated');
    for (const code of ['invalid_payload', 'timeout', 'network', 'rate_limited', 'internal'] as const) expect(rateRefusal(code)).toBe('retry');
  });

  it('says why a rating did not go through', () => {
    expect(rateErrorText('network', 'Connection lost')).toMatch(/connection trouble/);
    expect(rateErrorText('invalid_payload', 'comment is too long')).toBe('Your rating was not accepted: comment is too long');
  });
});

describe('a rated session in the order of snapshots', () => {
  it('is never replaced by a snapshot without its rating', () => {
    expect(supersedes(closed({ rating }), closed())).toBe(false);
    expect(supersedes(closed(), closed({ rating }))).toBe(true);
    expect(supersedes(closed({ rating }), closed({ rating }))).toBe(true);
  });
});
