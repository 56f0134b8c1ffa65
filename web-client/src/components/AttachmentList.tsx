import { useState } from 'react';
import { fileKind, isImage, KIND_LABELS, resolveAttachmentUrl, thumbnailSize } from '../chat/attachments';
import type { Attachment } from '../chat/protocol';
import { formatBytes } from '../lib/format';
import { FileIcon } from './FileIcon';
import { Lightbox } from './Lightbox';

type Props = {
  attachments: readonly Attachment[];
  /** The server's base URL ('' = this origin): attachment URLs are paths unless the server has --public-url. */
  serverUrl: string;
};

/**
 * The attachments of one message: images as thumbnails (their room kept
 * before they load) that open the full image in a lightbox, other files
 * as chips (icon, name, size) that download.
 */
export function AttachmentList({ attachments, serverUrl }: Props) {
  const [open, setOpen] = useState<Attachment | null>(null);
  if (attachments.length === 0) return null;
  const images = attachments.filter(isImage);
  const files = attachments.filter((a) => !isImage(a));
  return (
    <div className="attachments" data-testid="attachments">
      {images.length ? (
        <ul className="attachments__images" aria-label="Images">
          {images.map((a) => {
            const size = thumbnailSize(a);
            return (
              <li key={a.id}>
                <button
                  type="button"
                  className="attachment-thumb"
                  aria-label={`Open image ${a.name}`}
                  aria-haspopup="dialog"
                  onClick={() => setOpen(a)}
                  data-testid="attachment-image"
                  data-attachment-id={a.id}
                >
                  <img
                    src={resolveAttachmentUrl(a.thumbnailUrl as string, serverUrl)}
                    alt={a.name}
                    width={size?.width}
                    height={size?.height}
                    decoding="async"
                  />
                </button>
              </li>
            );
          })}
        </ul>
      ) : null}
      {files.length ? (
        <ul className="attachments__files" aria-label="Files">
          {files.map((a) => {
            const kind = fileKind(a.contentType);
            const size = formatBytes(a.size);
            return (
              <li key={a.id}>
                <a
                  className="attachment-chip"
                  href={resolveAttachmentUrl(a.url, serverUrl)}
                  download={a.name}
                  aria-label={`Download ${a.name}, ${KIND_LABELS[kind]}, ${size}`}
                  data-testid="attachment-file"
                  data-attachment-id={a.id}
                >
                  <FileIcon kind={kind} />
                  <span className="attachment-chip__text">
                    <span className="attachment-chip__name">{a.name}</span>
                    <span className="attachment-chip__size">{size}</span>
                  </span>
                </a>
              </li>
            );
          })}
        </ul>
      ) : null}
      {open ? (
        <Lightbox
          src={resolveAttachmentUrl(open.url, serverUrl)}
          name={open.name}
          width={open.width}
          height={open.height}
          onClose={() => setOpen(null)}
        />
      ) : null}
    </div>
  );
}
