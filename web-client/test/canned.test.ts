import { describe, expect, it } from 'vitest';
import {
  changedFields,
  checkDraft,
  contentPreview,
  describeCannedError,
  fillPlaceholders,
  filterCanned,
  insertCanned,
  placeholderValues,
  slashQueryAt,
} from '../src/chat/canned';
import { ChatError, type CannedResponse } from '../src/chat/protocol';
import { filenameFromDisposition } from '../src/lib/transcript';

function canned(shortcut: string, title: string | null, content: string): CannedResponse {
  return { id: `id-${shortcut}`, shortcut, title, content, updatedAt: '2026-01-01T00:00:00.000Z' };
}

const list = [
  canned('thanks', 'Thank you', 'Thanks for your patience, {{customer.name}}!'),
  canned('refund', 'Refund policy', 'Refunds take 5 days. — {{agent.name}}'),
  canned('ref-code', null, 'Your reference code is in the e-mail.'),
  canned('hello', 'Greeting', 'Hi {{customer.name}}, I am {{agent.name}}.'),
  canned('shipping', 'Delivery times', 'Orders ship within 2 days; refunds are separate.'),
];
const shortcuts = (items: CannedResponse[]) => items.map((r) => r.shortcut);

describe('slashQueryAt', () => {
  it('finds a / at the start of the text, the query running to the caret', () => {
    expect(slashQueryAt('/ref', 4)).toEqual({ start: 0, end: 4, query: 'ref' });
    expect(slashQueryAt('/', 1)).toEqual({ start: 0, end: 1, query: '' });
  });

  it('finds a / after whitespace, also on a new line', () => {
    expect(slashQueryAt('Hi Ana, /than', 13)).toEqual({ start: 8, end: 13, query: 'than' });
    expect(slashQueryAt('Hi\n/ref', 7)).toEqual({ start: 3, end: 7, query: 'ref' });
  });

  it('ignores a / inside a word or a URL', () => {
    expect(slashQueryAt('and/or', 6)).toBeNull();
    expect(slashQueryAt('see https://example.com/ref', 27)).toBeNull();
    expect(slashQueryAt('a//b', 4)).toBeNull();
  });

  it('is closed by whitespace after the query, and only looks left of the caret', () => {
    expect(slashQueryAt('/ref ', 5)).toBeNull();
    expect(slashQueryAt('hello /ref', 3)).toBeNull();
  });

  it('takes the whole token as what an insert replaces, the query only up to the caret', () => {
    expect(slashQueryAt('/refund now', 4)).toEqual({ start: 0, end: 7, query: 'ref' });
  });

  it('survives a caret past the end (a stale caret after the text was cleared)', () => {
    expect(slashQueryAt('', 9)).toBeNull();
    expect(slashQueryAt('/r', 9)).toEqual({ start: 0, end: 2, query: 'r' });
  });
});

describe('filterCanned', () => {
  it('lists every response by shortcut for a bare /', () => {
    expect(shortcuts(filterCanned(list, ''))).toEqual(['hello', 'ref-code', 'refund', 'shipping', 'thanks']);
  });

  it('puts shortcut prefixes first, then title or content matches', () => {
    expect(shortcuts(filterCanned(list, 'ref'))).toEqual(['ref-code', 'refund', 'shipping']);
  });

  it('matches titles and contents, ignoring case', () => {
    expect(shortcuts(filterCanned(list, 'DELIVERY'))).toEqual(['shipping']);
    expect(shortcuts(filterCanned(list, 'patience'))).toEqual(['thanks']);
  });

  it('matches inside a shortcut after the prefixes', () => {
    expect(shortcuts(filterCanned(list, 'code'))).toEqual(['ref-code']);
  });

  it('matches nothing for an unknown query', () => {
    expect(filterCanned(list, 'zzz')).toEqual([]);
  });
});

describe('placeholders', () => {
  const ana = { id: 'customer-1', role: 'customer' as const, name: 'Ana Customer' };
  const bo = { id: 'agent-1', role: 'agent' as const, name: 'Bo Agent' };

  it('fills the customer and agent names, every occurrence', () => {
    const values = placeholderValues(ana, bo);
    expect(fillPlaceholders('Hi {{customer.name}}, I am {{agent.name}}. Bye {{customer.name}}!', values)).toBe(
      'Hi Ana Customer, I am Bo Agent. Bye Ana Customer!',
    );
  });

  it('uses the id when a name is unknown or blank', () => {
    const values = placeholderValues({ ...ana, name: null }, { ...bo, name: '  ' });
    expect(values).toEqual({ customerName: 'customer-1', agentName: 'agent-1' });
  });

  it('accepts spaces inside the braces and leaves other braces alone', () => {
    const values = placeholderValues(ana, bo);
    expect(fillPlaceholders('{{ customer.name }} / {{order.id}} / {agent.name}', values)).toBe('Ana Customer / {{order.id}} / {agent.name}');
  });

  it('does not read $ patterns in a name as replacement syntax', () => {
    expect(fillPlaceholders('Hi {{customer.name}}', { customerName: "$& $' $1", agentName: 'x' })).toBe("Hi $& $' $1");
  });
});

describe('insertCanned', () => {
  it('replaces the /query with the content and puts the caret after it', () => {
    const text = 'Hello! /ref and more';
    const slash = slashQueryAt(text, 11)!;
    expect(insertCanned(text, slash, 'Refunds take 5 days.')).toEqual({ text: 'Hello! Refunds take 5 days. and more', caret: 27 });
  });

  it('replaces the whole token when the caret is inside it', () => {
    const slash = slashQueryAt('/refu', 3)!;
    expect(insertCanned('/refu', slash, 'X')).toEqual({ text: 'X', caret: 1 });
  });
});

describe('contentPreview', () => {
  it('flattens lines and shortens long contents', () => {
    expect(contentPreview('a\n\nb  c')).toBe('a b c');
    expect(contentPreview('x'.repeat(100), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});

describe('the settings form', () => {
  it('trims, drops a leading / and turns an empty title into null', () => {
    const { body, errors } = checkDraft({ shortcut: ' /refund ', title: '  ', content: ' Refunds take 5 days. ' });
    expect(body).toEqual({ shortcut: 'refund', title: null, content: 'Refunds take 5 days.' });
    expect(errors).toEqual({});
  });

  it('refuses shortcuts the server refuses: capitals, spaces, other signs, more than 32', () => {
    for (const bad of ['Refund', 'two words', 'café', 'a.b', 'x'.repeat(33)]) {
      expect(checkDraft({ shortcut: bad, title: '', content: 'x' }).errors.shortcut).toMatch(/Lowercase letters, digits, _ and -/);
    }
    for (const good of ['refund', 'ref_2', 'a-b', 'x'.repeat(32)]) {
      expect(checkDraft({ shortcut: good, title: '', content: 'x' }).errors).toEqual({});
    }
  });

  it('requires a shortcut and a text, and limits the title to 200 characters', () => {
    const { errors } = checkDraft({ shortcut: '', title: 't'.repeat(201), content: '   ' });
    expect(Object.keys(errors).sort()).toEqual(['content', 'shortcut', 'title']);
  });

  it('patches only what changed (a cleared title is null)', () => {
    const saved = canned('refund', 'Refund policy', 'Refunds take 5 days.');
    expect(changedFields(saved, { shortcut: 'refund', title: 'Refund policy', content: 'Refunds take 5 days.' })).toEqual({});
    expect(changedFields(saved, { shortcut: 'refunds', title: null, content: 'Refunds take 5 days.' })).toEqual({ shortcut: 'refunds', title: null });
  });

  it('says a conflict in words', () => {
    expect(describeCannedError(new ChatError('conflict', 'shortcut exists'))).toBe('That shortcut is taken.');
    expect(describeCannedError(new ChatError('invalid_payload', 'shortcut must match ...'))).toBe('shortcut must match ...');
  });
});

describe('the transcript file name', () => {
  it('is the server\'s filename, quoted or not, never a path', () => {
    expect(filenameFromDisposition('attachment; filename="session-abc.txt"')).toBe('session-abc.txt');
    expect(filenameFromDisposition('attachment; filename=session-abc.txt')).toBe('session-abc.txt');
    expect(filenameFromDisposition("attachment; filename*=UTF-8''s%C3%A9ance.txt")).toBe('séance.txt');
    expect(filenameFromDisposition('attachment; filename="../../etc/passwd"')).toBe('passwd');
    expect(filenameFromDisposition(null)).toBeNull();
    expect(filenameFromDisposition('attachment')).toBeNull();
  });
});
