// How attachments are shown (src/chat/attachments.ts) and sizes written
// (formatBytes in src/lib/format.ts).

import { describe, expect, it } from 'vitest';
import { fileKind, isImage, resolveAttachmentUrl, thumbnailSize } from '../src/chat/attachments';
import type { Attachment } from '../src/chat/protocol';
import { formatBytes } from '../src/lib/format';

describe('formatBytes', () => {
  it('writes sizes the way people read them', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(900)).toBe('900 bytes');
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(1024)).toBe('1 KB');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(2.4 * 1024 * 1024)).toBe('2.4 MB');
    expect(formatBytes(10485760)).toBe('10 MB');
    expect(formatBytes(15.6 * 1024 * 1024)).toBe('16 MB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3 GB');
  });

  it('carries into the next unit when rounding reaches 1024', () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe('1 MB');
  });

  it('writes nothing for nonsense', () => {
    expect(formatBytes(-1)).toBe('');
    expect(formatBytes(Number.NaN)).toBe('');
  });
});

const image: Attachment = {
  id: 'a1',
  name: 'screen.png',
  contentType: 'image/png',
  size: 2048,
  width: 1280,
  height: 800,
  url: '/api/attachments/a1?expires=1&signature=s',
  thumbnailUrl: '/api/attachments/a1/thumbnail?expires=1&signature=t',
};

describe('attachments', () => {
  it('shows images with a thumbnail inline, everything else as a file', () => {
    expect(isImage(image)).toBe(true);
    expect(isImage({ ...image, contentType: 'application/pdf', width: null, height: null, thumbnailUrl: null })).toBe(false);
    // An image the server made no thumbnail for is offered as a file.
    expect(isImage({ ...image, thumbnailUrl: null })).toBe(false);
  });

  it('keeps a thumbnail’s proportions in its box, and never enlarges it', () => {
    expect(thumbnailSize({ width: 1280, height: 800 })).toEqual({ width: 240, height: 150 });
    expect(thumbnailSize({ width: 600, height: 2400 })).toEqual({ width: 60, height: 240 });
    expect(thumbnailSize({ width: 100, height: 50 })).toEqual({ width: 100, height: 50 });
    expect(thumbnailSize({ width: 5000, height: 1 })).toEqual({ width: 240, height: 1 });
    expect(thumbnailSize({ width: null, height: null })).toBeNull();
    expect(thumbnailSize({ width: 0, height: 10 })).toBeNull();
  });

  it('resolves paths against the server’s base URL and keeps absolute URLs', () => {
    expect(resolveAttachmentUrl(image.url, '')).toBe(image.url);
    expect(resolveAttachmentUrl(image.url, 'http://localhost:3001')).toBe(`http://localhost:3001${image.url}`);
    expect(resolveAttachmentUrl(image.url, 'http://localhost:3001/')).toBe(`http://localhost:3001${image.url}`);
    const absolute = 'https://chat.example.com/api/attachments/a1?expires=1&signature=s';
    expect(resolveAttachmentUrl(absolute, 'http://localhost:3001')).toBe(absolute);
  });

  it('gives each detected type its icon', () => {
    expect(fileKind('application/pdf')).toBe('pdf');
    expect(fileKind('application/vnd.openxmlformats-officedocument.wordprocessingml.document')).toBe('document');
    expect(fileKind('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')).toBe('spreadsheet');
    expect(fileKind('text/csv')).toBe('spreadsheet');
    expect(fileKind('application/zip')).toBe('archive');
    expect(fileKind('text/plain; charset=utf-8')).toBe('text');
    expect(fileKind('image/webp')).toBe('image');
    expect(fileKind('application/x-unknown')).toBe('file');
  });
});
