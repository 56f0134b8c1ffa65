// The backend's `notify.*` events as toasts, rendered in jsdom (no server):
// a fake socket delivers events through onAny, as Socket.IO does.

import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UserRef } from '../src/chat/protocol';
import { ChatNotification } from '../src/components/ChatNotification';
import { useNotifyToasts } from '../src/hooks/useNotifyToasts';
import { useToasts } from '../src/hooks/useToasts';

type AnyListener = (event: string, ...args: unknown[]) => void;

/** Just what the hook uses of a Socket.IO socket. */
function fakeSocket() {
  const listeners = new Set<AnyListener>();
  const socket = {
    onAny: (l: AnyListener) => listeners.add(l),
    offAny: (l: AnyListener) => listeners.delete(l),
  };
  const emit = (event: string, data?: unknown) => act(() => listeners.forEach((l) => l(event, data)));
  return { socket: socket as unknown as Socket, emit, listeners };
}

function Harness({ socket, user }: { socket: Socket; user: UserRef }) {
  const { toasts, notify, dismiss } = useToasts();
  useNotifyToasts(socket, user, notify);
  return <ChatNotification toasts={toasts} onDismiss={dismiss} timeoutMs={5000} />;
}

const agent: UserRef = { id: 'agent-bo', role: 'agent', name: 'Bo' };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('notify toasts', () => {
  it('shows a notify. event with its title, message and level in a status region', () => {
    const { socket, emit } = fakeSocket();
    render(<Harness socket={socket} user={agent} />);
    emit('notify.crm', { title: 'New contact', message: 'Ada', level: 'success' });
    const toast = screen.getByTestId('toast');
    expect(toast.textContent).toContain('New contact');
    expect(toast.textContent).toContain('Ada');
    expect(toast.dataset.level).toBe('success');
    expect(toast.closest('[role="status"]')?.getAttribute('aria-live')).toBe('polite');
  });

  it('ignores other events', () => {
    const { socket, emit } = fakeSocket();
    render(<Harness socket={socket} user={agent} />);
    emit('stats-update', { pendingSessions: 1 });
    emit('crm.contact', { title: 'x' });
    expect(screen.queryAllByTestId('toast')).toHaveLength(0);
  });

  it('stacks toasts, each going away after the timeout, or when closed', () => {
    const { socket, emit } = fakeSocket();
    render(<Harness socket={socket} user={agent} />);
    emit('notify.bulk', { sent: 1 });
    act(() => vi.advanceTimersByTime(2000));
    emit('notify.whatsapp', { message: 'Line 2 is down', level: 'error' });
    const toasts = screen.getAllByTestId('toast');
    expect(toasts.map((t) => t.querySelector('.toast__title')?.textContent)).toEqual(['notify.bulk', 'Error: notify.whatsapp']);
    expect(toasts[0].textContent).toContain('{"sent":1}');

    act(() => vi.advanceTimersByTime(3100));
    expect(screen.getAllByTestId('toast')).toHaveLength(1);
    fireEvent.click(screen.getByRole('button', { name: 'Dismiss notification' }));
    expect(screen.queryAllByTestId('toast')).toHaveLength(0);
  });

  it('waits while the keyboard focus is in a toast', () => {
    const { socket, emit } = fakeSocket();
    render(<Harness socket={socket} user={agent} />);
    emit('notify.crm', { title: 'New contact' });
    const close = screen.getByRole('button', { name: 'Dismiss notification' });
    act(() => close.focus());
    act(() => vi.advanceTimersByTime(10_000));
    expect(screen.getAllByTestId('toast')).toHaveLength(1);
    act(() => close.blur());
    act(() => vi.advanceTimersByTime(5100));
    expect(screen.queryAllByTestId('toast')).toHaveLength(0);
  });

  it('shows nothing on a customer socket, and stops listening when unmounted', () => {
    const { socket, emit, listeners } = fakeSocket();
    const { unmount } = render(<Harness socket={socket} user={{ id: 'c', role: 'customer', name: 'Ana' }} />);
    emit('notify.crm', { title: 'New contact' });
    expect(screen.queryAllByTestId('toast')).toHaveLength(0);
    expect(listeners.size).toBe(0);
    unmount();
    const staff = fakeSocket();
    const second = render(<Harness socket={staff.socket} user={agent} />);
    expect(staff.listeners.size).toBe(1);
    second.unmount();
    expect(staff.listeners.size).toBe(0);
  });
});
