// The attachments of the message being written (PROTOCOL §8): each chosen
// file starts uploading at once; the draft tracks every upload's progress,
// its result (an Attachment, or why it was refused, in words) and what
// Send may take. Framework-free, with the transport injected, so the
// state machine is unit-tested alone (test/uploads.test.ts); useUploads
// wraps it for React and lib/upload.ts is the real (XMLHttpRequest)
// transport.
//
//   add(file) -> uploading --progress--> uploading --201--> done --takeReady--> (gone: in a message)
//                    |                                        |
//                    +--refused / network--> failed           +--remove--> (gone)
//                    +--remove--> aborted (gone)              failed --remove (dismiss)--> (gone)

import { formatBytes } from '../lib/format';
import { ChatError, type Attachment } from './protocol';

export type UploadStatus = 'uploading' | 'done' | 'failed';

export type UploadItem = {
  /** This draft's own id for the file (the server's id exists only once it is done). */
  readonly key: string;
  readonly name: string;
  /** Bytes of the file. */
  readonly size: number;
  readonly status: UploadStatus;
  /** Bytes sent so far, and of how many (the request body, a little more than the file). */
  readonly loaded: number;
  readonly total: number;
  readonly attachment: Attachment | null;
  /** Why it failed, in words for the UI. */
  readonly error: string | null;
};

/** One upload under way: its result, and how to stop it. */
export type UploadRequest = { readonly done: Promise<Attachment>; abort(): void };

/** Sends one file to the session; reports bytes sent; rejects with a ChatError. */
export type UploadTransport = (file: File, onProgress: (loaded: number, total: number) => void) => UploadRequest;

export type UploadsSnapshot = {
  readonly items: readonly UploadItem[];
  /** Some upload is still running: Send waits for it. */
  readonly uploading: boolean;
  /** The attachments Send would take, in the order they were chosen. */
  readonly ready: readonly Attachment[];
};

export type UploadDraftOptions = {
  /** The server takes at most this many attachments per message (§8: 10). */
  maxFiles?: number;
  /** The server's upload limit when the client knows it (the server does not advertise it). */
  maxBytes?: number | null;
};

/** PROTOCOL §8: at most 10 attachments per message. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

/**
 * Why an upload failed, in words, naming the file: the server's refusals
 * by code (413 and 415 first), anything else with the server's message.
 */
export function uploadErrorText(name: string, err: unknown, maxBytes: number | null = null): string {
  const code = err instanceof ChatError ? err.code : 'internal';
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'attachment_too_large':
      return maxBytes ? `${name} is larger than ${formatBytes(maxBytes)}` : `${name} is too large for this server`;
    case 'unsupported_media_type':
      return `${name} is not a supported file type`;
    case 'session_closed':
      return `${name} was not sent: this chat is closed`;
    case 'network':
      return `${name} could not be uploaded: the server could not be reached`;
    case 'rate_limited':
      return `${name} could not be uploaded: too many uploads at once, try again in a moment`;
    default:
      return `${name} could not be uploaded: ${message}`;
  }
}

type Entry = { item: UploadItem; request: UploadRequest | null };

let keyCounter = 0;

export class UploadDraft {
  private entries: Entry[] = [];
  private snapshot: UploadsSnapshot = { items: [], uploading: false, ready: [] };
  private readonly listeners = new Set<() => void>();
  private disposed = false;
  private readonly maxFiles: number;
  private readonly maxBytes: number | null;

  constructor(
    private readonly transport: UploadTransport,
    options: UploadDraftOptions = {},
  ) {
    this.maxFiles = options.maxFiles ?? MAX_ATTACHMENTS_PER_MESSAGE;
    this.maxBytes = options.maxBytes ?? null;
  }

  getSnapshot = (): UploadsSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Starts uploading each file at once; returns their keys. */
  add(files: Iterable<File>): string[] {
    if (this.disposed) return [];
    const keys: string[] = [];
    for (const file of files) {
      const key = `upload-${++keyCounter}`;
      keys.push(key);
      const base = { key, name: file.name || 'file', size: file.size, loaded: 0, total: file.size, attachment: null };
      const refusal = this.refusalBeforeUpload(file);
      if (refusal) {
        this.entries.push({ item: { ...base, status: 'failed', error: refusal }, request: null });
        continue;
      }
      const entry: Entry = { item: { ...base, status: 'uploading', error: null }, request: null };
      this.entries.push(entry);
      this.start(entry, file);
    }
    this.changed();
    return keys;
  }

  /**
   * The × of a file: cancels it while it uploads (the request is aborted),
   * takes it out of the draft once uploaded, dismisses its error.
   */
  remove(key: string): void {
    const entry = this.entries.find((e) => e.item.key === key);
    if (!entry) return;
    this.entries = this.entries.filter((e) => e !== entry);
    if (entry.item.status === 'uploading') entry.request?.abort();
    this.changed();
  }

  /**
   * What Send attaches: the uploaded files, which leave the draft (failed
   * ones stay until dismissed). Nothing while an upload runs: Send waits
   * for all of them.
   */
  takeReady(): Attachment[] {
    if (this.snapshot.uploading) return [];
    const ready = this.snapshot.ready;
    if (ready.length === 0) return [];
    this.entries = this.entries.filter((e) => e.item.status !== 'done');
    this.changed();
    return [...ready];
  }

  /** Aborts every upload (the chat is left); the draft takes nothing more. */
  dispose(): void {
    this.disposed = true;
    for (const e of this.entries) if (e.item.status === 'uploading') e.request?.abort();
    this.entries = [];
    this.listeners.clear();
  }

  private refusalBeforeUpload(file: File): string | null {
    const name = file.name || 'file';
    const counted = this.entries.filter((e) => e.item.status !== 'failed').length;
    if (counted >= this.maxFiles) return `${name} was not added: at most ${this.maxFiles} files per message`;
    if (this.maxBytes !== null && file.size > this.maxBytes) {
      return uploadErrorText(name, new ChatError('attachment_too_large', 'too large'), this.maxBytes);
    }
    return null;
  }

  private start(entry: Entry, file: File): void {
    let request: UploadRequest;
    try {
      request = this.transport(file, (loaded, total) => {
        if (!this.alive(entry) || entry.item.status !== 'uploading') return;
        const t = total > 0 ? total : entry.item.total;
        this.update(entry, { loaded: Math.min(loaded, t), total: t });
      });
    } catch (err) {
      this.update(entry, { status: 'failed', error: uploadErrorText(entry.item.name, err, this.maxBytes) }, false);
      return;
    }
    entry.request = request;
    request.done.then(
      (attachment) => {
        if (!this.alive(entry)) return; // cancelled meanwhile
        this.update(entry, { status: 'done', attachment, loaded: entry.item.total });
      },
      (err: unknown) => {
        if (!this.alive(entry)) return;
        this.update(entry, { status: 'failed', error: uploadErrorText(entry.item.name, err, this.maxBytes) });
      },
    );
  }

  private alive(entry: Entry): boolean {
    return !this.disposed && this.entries.includes(entry);
  }

  private update(entry: Entry, patch: Partial<UploadItem>, notify = true): void {
    entry.item = { ...entry.item, ...patch };
    if (notify) this.changed();
  }

  private changed(): void {
    const items = this.entries.map((e) => e.item);
    this.snapshot = {
      items,
      uploading: items.some((i) => i.status === 'uploading'),
      ready: items.filter((i) => i.status === 'done' && i.attachment).map((i) => i.attachment as Attachment),
    };
    for (const listener of [...this.listeners]) listener();
  }
}
