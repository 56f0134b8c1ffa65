// The pure rules of showing an attachment (PROTOCOL §8): which ones are
// images, how much room a thumbnail takes, which icon a file gets, and
// where its URL points. No DOM here, so they are unit-tested alone
// (test/attachments.test.ts).

import type { Attachment } from './protocol';

/** The longest side of a thumbnail as the message list shows it (the server's is at most 320 px). */
export const THUMBNAIL_BOX = 240;

/** Shown inline with a thumbnail and opened in the lightbox; everything else is a download chip. */
export function isImage(a: Attachment): boolean {
  return a.contentType.startsWith('image/') && a.thumbnailUrl !== null;
}

/**
 * The size a thumbnail is shown at, known before it loads so the list does
 * not jump: the image's proportions fitted into `box` (never enlarged past
 * the image itself). Null when the server gave no dimensions.
 */
export function thumbnailSize(a: Pick<Attachment, 'width' | 'height'>, box = THUMBNAIL_BOX): { width: number; height: number } | null {
  const { width, height } = a;
  if (!width || !height || width <= 0 || height <= 0) return null;
  const scale = Math.min(1, box / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * An attachment URL the browser can load: absolute ones (the server has
 * `--public-url`) as they are, paths resolved against the server's base
 * URL ('' = this page's origin, how the server serves this client).
 */
export function resolveAttachmentUrl(url: string, serverUrl: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) return url;
  const base = serverUrl.replace(/\/+$/, '');
  return base + (url.startsWith('/') ? url : `/${url}`);
}

export type FileKind = 'image' | 'pdf' | 'document' | 'spreadsheet' | 'archive' | 'text' | 'file';

/** The icon a file chip gets, from the type the server detected. */
export function fileKind(contentType: string): FileKind {
  const type = contentType.toLowerCase().split(';')[0].trim();
  if (type.startsWith('image/')) return 'image';
  if (type === 'application/pdf') return 'pdf';
  if (type.includes('wordprocessingml') || type === 'application/msword') return 'document';
  if (type.includes('spreadsheetml') || type === 'text/csv' || type === 'application/vnd.ms-excel') return 'spreadsheet';
  if (type === 'application/zip') return 'archive';
  if (type.startsWith('text/')) return 'text';
  return 'file';
}

/** What a screen reader hears for a file chip: "Download report.pdf, PDF, 2.4 MB". */
export const KIND_LABELS: Record<FileKind, string> = {
  image: 'image',
  pdf: 'PDF',
  document: 'document',
  spreadsheet: 'spreadsheet',
  archive: 'ZIP archive',
  text: 'text file',
  file: 'file',
};
