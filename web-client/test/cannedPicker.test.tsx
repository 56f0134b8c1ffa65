// The composer's canned-responses picker, rendered in jsdom with a fixed
// list (no server): `/` opens it, the query filters it, Up/Down move,
// Enter inserts with the placeholders filled in, Escape closes it, and
// without a list (the customer's widget) it never opens.

import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fillPlaceholders } from '../src/chat/canned';
import type { CannedResponse } from '../src/chat/protocol';
import { Composer } from '../src/components/Composer';

afterEach(cleanup);

const responses: CannedResponse[] = [
  { id: '1', shortcut: 'refund', title: 'Refund policy', content: 'Hi {{customer.name}}, refunds take 5 days. {{agent.name}}', updatedAt: '' },
  { id: '2', shortcut: 'ref-code', title: null, content: 'Your reference code is in the e-mail.', updatedAt: '' },
  { id: '3', shortcut: 'thanks', title: 'Thank you', content: 'Thanks!', updatedAt: '' },
];
const fill = (content: string) => fillPlaceholders(content, { customerName: 'Ana', agentName: 'Bo' });

function setup(withCanned = true) {
  const onSend = vi.fn();
  render(<Composer onSend={onSend} onTyping={() => {}} canned={withCanned ? { responses, fill } : undefined} />);
  const box = screen.getByRole('textbox', { name: 'Message' }) as HTMLTextAreaElement;
  act(() => box.focus());
  const type = (value: string) => fireEvent.change(box, { target: { value } });
  const key = (k: string, init: Partial<KeyboardEventInit> = {}) => fireEvent.keyDown(box, { key: k, ...init });
  const options = () => screen.queryAllByRole('option').map((o) => o.getAttribute('data-shortcut'));
  const selected = () => screen.queryAllByRole('option').find((o) => o.getAttribute('aria-selected') === 'true')?.getAttribute('data-shortcut');
  return { box, type, key, options, selected, onSend };
}

describe('the canned-responses picker', () => {
  it('opens on / and filters by what follows', () => {
    const { type, options } = setup();
    type('/');
    expect(options()).toEqual(['ref-code', 'refund', 'thanks']);
    type('/ref');
    expect(options()).toEqual(['ref-code', 'refund']);
    type('/zzz');
    expect(options()).toEqual([]);
    expect(screen.getByTestId('canned-picker').textContent).toContain('No canned response matches “/zzz”');
  });

  it('moves with Up/Down (wrapping) and inserts the highlighted one on Enter, filled in, without sending', () => {
    const { box, type, key, selected, onSend } = setup();
    type('Hello /ref');
    expect(selected()).toBe('ref-code');
    key('ArrowDown');
    expect(selected()).toBe('refund');
    expect(box.getAttribute('aria-activedescendant')).toBe(screen.getAllByRole('option')[1].id);
    key('ArrowDown');
    expect(selected()).toBe('ref-code');
    key('ArrowUp');
    expect(selected()).toBe('refund');
    key('Enter');
    expect(box.value).toBe('Hello Hi Ana, refunds take 5 days. Bo');
    expect(box.selectionStart).toBe(box.value.length);
    expect(onSend).not.toHaveBeenCalled();
    expect(screen.queryByTestId('canned-picker')).toBeNull();
    // The next Enter sends the filled text.
    key('Enter');
    expect(onSend).toHaveBeenCalledWith('Hello Hi Ana, refunds take 5 days. Bo', []);
  });

  it('inserts on a click', () => {
    const { box, type } = setup();
    type('/th');
    fireEvent.click(screen.getByRole('option', { name: /thanks/ }));
    expect(box.value).toBe('Thanks!');
  });

  it('closes on Escape until another / is typed', () => {
    const { type, key, options } = setup();
    type('/re');
    expect(options().length).toBe(2);
    key('Escape');
    expect(screen.queryByTestId('canned-picker')).toBeNull();
    type('/ref');
    expect(screen.queryByTestId('canned-picker')).toBeNull();
    type('/ref /');
    expect(options()).toEqual(['ref-code', 'refund', 'thanks']);
  });

  it('lets Enter send as usual when nothing matches', () => {
    const { type, key, onSend } = setup();
    type('/shrug');
    key('Enter');
    expect(onSend).toHaveBeenCalledWith('/shrug', []);
  });

  it('never opens without canned responses (the customer widget)', () => {
    const { box, type } = setup(false);
    type('/ref');
    expect(screen.queryByTestId('canned-picker')).toBeNull();
    expect(box.getAttribute('aria-autocomplete')).toBeNull();
  });
});
