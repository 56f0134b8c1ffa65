// Attachments as the client sends them, against the real server: the
// XMLHttpRequest transport (progress, the server's refusals by code) and
// useChatSocket sending uploaded ids, the other side receiving the full
// Attachments. No mocks; every wait is for a state, with a timeout.

import { act, renderHook, waitFor } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatError, type Attachment } from '../src/chat/protocol';
import { useChatSocket } from '../src/hooks/useChatSocket';
import { uploadFile } from '../src/lib/upload';
import { makePdf, makePng } from '../test-support/files.js';
import { startServer, type SwitchboardServer } from '../test-support/switchboardServer.js';

let server: SwitchboardServer;

beforeAll(async () => {
  server = await startServer({ extraArgs: ['--attachment-max-bytes', String(64 * 1024)] });
});

afterAll(async () => {
  await server?.stop();
});

const WAIT = { timeout: 10_000, interval: 20 };

async function user(role: 'customer' | 'agent', name: string) {
  const id = `${role}-${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`;
  return { id, token: await server.token({ sub: id, role, name }) };
}

const uploadUrl = (sessionId: string) => `${server.url}/api/chat/sessions/${sessionId}/attachments`;
const asFile = (bytes: Uint8Array, name: string, type: string) => new File([new Uint8Array(bytes)], name, { type });

describe('attachments against the real server', () => {
  it('uploads a file with progress and gets its Attachment back', async () => {
    const ana = await user('customer', 'Ana');
    const session = await server.rest('POST', '/api/chat/sessions', ana.token, { message: 'Hi' });
    const png = makePng(64, 32);
    const progress: number[] = [];
    const request = uploadFile(uploadUrl(session.id), ana.token, asFile(png, 'shot.png', 'image/png'), (loaded) => progress.push(loaded));
    const attachment = await request.done;
    expect(attachment).toMatchObject({ name: 'shot.png', contentType: 'image/png', size: png.length, width: 64, height: 32 });
    expect(attachment.url).toMatch(/^\/api\/attachments\//);
    expect(attachment.thumbnailUrl).toMatch(/^\/api\/attachments\/.+\/thumbnail/);
    // jsdom reports upload progress too (browsers report it in steps).
    expect(progress.length).toBeGreaterThan(0);
  });

  it('turns the server’s refusals into their codes', async () => {
    const ana = await user('customer', 'Ana');
    const session = await server.rest('POST', '/api/chat/sessions', ana.token, { message: 'Hi' });
    const refusal = async (file: File) => uploadFile(uploadUrl(session.id), ana.token, file, () => {}).done.catch((e: unknown) => e);
    const tooLarge = await refusal(asFile(new Uint8Array(100 * 1024).fill(65), 'big.txt', 'text/plain'));
    expect(tooLarge).toBeInstanceOf(ChatError);
    expect((tooLarge as ChatError).code).toBe('attachment_too_large');
    const html = await refusal(asFile(new TextEncoder().encode('<html></html>'), 'notes.txt', 'text/plain'));
    expect((html as ChatError).code).toBe('unsupported_media_type');
  });

  it('sends uploaded files in a message with no text; the agent receives them', async () => {
    const ana = await user('customer', 'Ana');
    const bo = await user('agent', 'Bo');
    const session = await server.rest('POST', '/api/chat/sessions', ana.token, { message: 'Invoice attached' });
    const pdf = makePdf('Invoice');
    const attachment: Attachment = await uploadFile(uploadUrl(session.id), ana.token, asFile(pdf, 'invoice.pdf', 'application/pdf'), () => {}).done;

    const customer = renderHook(() => useChatSocket({ sessionId: session.id, token: ana.token, serverUrl: server.url }));
    const agent = renderHook(() => useChatSocket({ sessionId: session.id, token: bo.token, serverUrl: server.url }));
    await waitFor(() => expect(customer.result.current.joined && agent.result.current.joined).toBe(true), WAIT);

    act(() => {
      customer.result.current.sendMessage('', [attachment]);
    });
    // Pending at once, with the attachment shown.
    expect(customer.result.current.messages.at(-1)).toMatchObject({ pending: true, content: '', attachments: [{ id: attachment.id }] });
    await waitFor(() => expect(customer.result.current.messages.at(-1)?.pending).toBe(false), WAIT);
    await waitFor(() => expect(agent.result.current.messages).toHaveLength(2), WAIT);
    const received = agent.result.current.messages[1];
    expect(received.content).toBe('');
    expect(received.attachments).toHaveLength(1);
    expect(received.attachments?.[0]).toMatchObject({ id: attachment.id, name: 'invoice.pdf', contentType: 'application/pdf', size: pdf.length, thumbnailUrl: null });
    // The signed URL works without a token.
    const response = await fetch(server.url + received.attachments![0].url);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(pdf)).toBe(true);
    customer.unmount();
    agent.unmount();
  });
});
