// The upload state machine (src/chat/uploads.ts) with a transport the test
// drives by hand: progress, success, refusals, cancel, Send's take.

import { describe, expect, it } from 'vitest';
import { ChatError, type Attachment } from '../src/chat/protocol';
import { UploadDraft, uploadErrorText, type UploadTransport } from '../src/chat/uploads';

type Call = {
  file: File;
  progress: (loaded: number, total: number) => void;
  resolve: (a: Attachment) => void;
  reject: (err: unknown) => void;
  aborted: boolean;
};

/** A transport whose uploads stay open until the test settles them. */
function manualTransport() {
  const calls: Call[] = [];
  const transport: UploadTransport = (file, progress) => {
    let resolve!: (a: Attachment) => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<Attachment>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const call: Call = { file, progress, resolve, reject, aborted: false };
    calls.push(call);
    return {
      done,
      abort: () => {
        call.aborted = true;
        reject(new ChatError('network', 'Upload cancelled'));
      },
    };
  };
  return { calls, transport };
}

const file = (name: string, size = 100, type = 'application/octet-stream') => new File([new Uint8Array(size)], name, { type });

function attachment(id: string, name: string): Attachment {
  return { id, name, contentType: 'application/pdf', size: 100, width: null, height: null, url: `/api/attachments/${id}?expires=1&signature=x`, thumbnailUrl: null };
}

/** Lets the promise callbacks of settled uploads run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('UploadDraft', () => {
  it('starts every chosen file at once and reports each one’s progress', () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport);
    let changes = 0;
    draft.subscribe(() => changes++);
    draft.add([file('a.pdf', 1000), file('b.pdf', 2000)]);
    expect(calls.map((c) => c.file.name)).toEqual(['a.pdf', 'b.pdf']);
    const s = draft.getSnapshot();
    expect(s.items.map((i) => [i.name, i.status, i.loaded, i.total])).toEqual([
      ['a.pdf', 'uploading', 0, 1000],
      ['b.pdf', 'uploading', 0, 2000],
    ]);
    expect(s.uploading).toBe(true);
    calls[1].progress(500, 2200);
    const b = draft.getSnapshot().items[1];
    expect([b.loaded, b.total]).toEqual([500, 2200]);
    expect(draft.getSnapshot().items[0].loaded).toBe(0);
    expect(changes).toBeGreaterThanOrEqual(2);
  });

  it('is ready to send only when every upload is done, in the order chosen', async () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport);
    draft.add([file('a.pdf'), file('b.pdf')]);
    calls[1].resolve(attachment('B', 'b.pdf'));
    await settle();
    expect(draft.getSnapshot().uploading).toBe(true);
    expect(draft.takeReady()).toEqual([]); // Send waits for a.pdf
    calls[0].resolve(attachment('A', 'a.pdf'));
    await settle();
    const s = draft.getSnapshot();
    expect(s.uploading).toBe(false);
    expect(s.items.map((i) => i.status)).toEqual(['done', 'done']);
    expect(s.items[0].loaded).toBe(s.items[0].total);
    expect(s.ready.map((a) => a.id)).toEqual(['A', 'B']);
    expect(draft.takeReady().map((a) => a.id)).toEqual(['A', 'B']);
    expect(draft.getSnapshot().items).toEqual([]);
    expect(draft.takeReady()).toEqual([]);
  });

  it('cancels an upload under way: the request is aborted and the file leaves the draft', async () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport);
    const [a] = draft.add([file('big.zip', 5000), file('small.pdf')]);
    calls[0].progress(1000, 5000);
    draft.remove(a);
    expect(calls[0].aborted).toBe(true);
    await settle();
    expect(draft.getSnapshot().items.map((i) => i.name)).toEqual(['small.pdf']);
    calls[1].resolve(attachment('S', 'small.pdf'));
    await settle();
    expect(draft.getSnapshot().uploading).toBe(false);
    expect(draft.takeReady().map((a) => a.id)).toEqual(['S']);
  });

  it('ignores the result of an upload cancelled just before it finished', async () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport);
    const [key] = draft.add([file('a.pdf')]);
    draft.remove(key);
    calls[0].resolve(attachment('A', 'a.pdf')); // too late: already rejected by the abort
    await settle();
    expect(draft.getSnapshot()).toMatchObject({ items: [], uploading: false, ready: [] });
  });

  it('takes an uploaded file out of the draft with its ×', async () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport);
    const [a] = draft.add([file('a.pdf'), file('b.pdf')]);
    calls[0].resolve(attachment('A', 'a.pdf'));
    calls[1].resolve(attachment('B', 'b.pdf'));
    await settle();
    draft.remove(a);
    expect(calls[0].aborted).toBe(false);
    expect(draft.takeReady().map((x) => x.id)).toEqual(['B']);
  });

  it('says per file why the server refused it, and keeps the message until dismissed', async () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport);
    draft.add([file('huge.iso'), file('page.html'), file('ok.pdf')]);
    calls[0].reject(new ChatError('attachment_too_large', 'attachment larger than the limit'));
    calls[1].reject(new ChatError('unsupported_media_type', 'type not allowed'));
    calls[2].resolve(attachment('OK', 'ok.pdf'));
    await settle();
    const s = draft.getSnapshot();
    expect(s.items.map((i) => [i.status, i.error])).toEqual([
      ['failed', 'huge.iso is too large for this server'],
      ['failed', 'page.html is not a supported file type'],
      ['done', null],
    ]);
    // Failures do not hold Send back, and stay after it until dismissed.
    expect(s.uploading).toBe(false);
    expect(draft.takeReady().map((a) => a.id)).toEqual(['OK']);
    expect(draft.getSnapshot().items.map((i) => i.name)).toEqual(['huge.iso', 'page.html']);
    draft.remove(draft.getSnapshot().items[0].key);
    expect(draft.getSnapshot().items.map((i) => i.name)).toEqual(['page.html']);
  });

  it('refuses files past the per-message maximum without uploading them', () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport, { maxFiles: 2 });
    draft.add([file('1.pdf'), file('2.pdf'), file('3.pdf')]);
    expect(calls).toHaveLength(2);
    expect(draft.getSnapshot().items[2]).toMatchObject({ status: 'failed', error: '3.pdf was not added: at most 2 files per message' });
  });

  it('refuses a file over a known size limit before uploading it, naming the limit', () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport, { maxBytes: 10 * 1024 * 1024 });
    draft.add([file('video.mp4', 10 * 1024 * 1024 + 1)]);
    expect(calls).toHaveLength(0);
    expect(draft.getSnapshot().items[0]).toMatchObject({ status: 'failed', error: 'video.mp4 is larger than 10 MB' });
  });

  it('turns a transport that throws at once into a failed file', () => {
    const draft = new UploadDraft(() => {
      throw new ChatError('network', 'offline');
    });
    draft.add([file('a.pdf')]);
    expect(draft.getSnapshot().items[0]).toMatchObject({ status: 'failed', error: 'a.pdf could not be uploaded: the server could not be reached' });
    expect(draft.getSnapshot().uploading).toBe(false);
  });

  it('aborts everything still uploading when disposed, and takes nothing more', async () => {
    const { calls, transport } = manualTransport();
    const draft = new UploadDraft(transport);
    draft.add([file('a.pdf'), file('b.pdf')]);
    calls[0].resolve(attachment('A', 'a.pdf'));
    await settle();
    draft.dispose();
    expect(calls.map((c) => c.aborted)).toEqual([false, true]);
    expect(draft.add([file('c.pdf')])).toEqual([]);
    expect(calls).toHaveLength(2);
  });
});

describe('uploadErrorText', () => {
  it('names the file and the reason for each refusal', () => {
    const tooLarge = new ChatError('attachment_too_large', 'x');
    expect(uploadErrorText('a.png', tooLarge)).toBe('a.png is too large for this server');
    expect(uploadErrorText('a.png', tooLarge, 2 * 1024 * 1024)).toBe('a.png is larger than 2 MB');
    expect(uploadErrorText('a.svg', new ChatError('unsupported_media_type', 'x'))).toBe('a.svg is not a supported file type');
    expect(uploadErrorText('a.png', new ChatError('session_closed', 'x'))).toBe('a.png was not sent: this chat is closed');
    expect(uploadErrorText('a.png', new ChatError('invalid_payload', 'image does not decode'))).toBe(
      'a.png could not be uploaded: image does not decode',
    );
  });
});
