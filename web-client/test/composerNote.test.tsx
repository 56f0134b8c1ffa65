// The composer in the agent's Note mode, rendered in jsdom (no server):
// the yellow variant with its toolbar, and a note the server refuses
// putting its text back.

import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ComposerModeSwitch } from '../src/components/ComposerModeSwitch';
import { Composer } from '../src/components/Composer';

afterEach(cleanup);

function setup(onSend: (text: string) => unknown) {
  render(
    <Composer
      onSend={onSend}
      onTyping={() => {}}
      variant="note"
      toolbar={<ComposerModeSwitch mode="note" onChange={() => {}} />}
      placeholder="Private note for agents…"
    />,
  );
  const box = screen.getByRole('textbox', { name: 'Message' }) as HTMLTextAreaElement;
  const send = async (text: string) => {
    fireEvent.change(box, { target: { value: text } });
    await act(async () => {
      fireEvent.keyDown(box, { key: 'Enter' });
    });
  };
  return { box, send };
}

describe('the composer in Note mode', () => {
  it('is the note variant, labelled, with the switch on Note', () => {
    const { box } = setup(() => {});
    expect(box.closest('form')?.classList.contains('composer--note')).toBe(true);
    expect(screen.getByTestId('note-mode-label').textContent).toBe('Note — only agents see this');
    expect((screen.getByRole('radio', { name: 'Note' }) as HTMLInputElement).checked).toBe(true);
    expect(box.placeholder).toBe('Private note for agents…');
  });

  it('clears the box when the note is stored', async () => {
    const { box, send } = setup(() => Promise.resolve({ id: 'n1' }));
    await send('Refund approved');
    expect(box.value).toBe('');
  });

  it('puts the text back when the server refuses the note', async () => {
    const { box, send } = setup(() => Promise.reject(new Error('rate_limited')));
    await send('Refund approved');
    expect(box.value).toBe('Refund approved');
  });
});
