import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { createPortal } from 'react-dom';

type Props = {
  src: string;
  name: string;
  width: number | null;
  height: number | null;
  onClose: () => void;
};

/**
 * The full image over the page: Escape, the close button or a click
 * anywhere but the download link closes it. A modal dialog: focus moves
 * into it, stays there, and goes back to the thumbnail afterwards.
 */
export function Lightbox({ src, name, width, height, onClose }: Props) {
  const closeRef = useRef<HTMLButtonElement>(null);
  const [failed, setFailed] = useState(false);
  const dialogRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    return () => before?.focus?.();
  }, []);

  // Escape closes wherever the focus is.
  const closeRefFn = useRef(onClose);
  closeRefFn.current = onClose;
  useEffect(() => {
    const onEscape = (e: globalThis.KeyboardEvent) => {
      if (e.key === 'Escape') closeRefFn.current();
    };
    document.addEventListener('keydown', onEscape);
    return () => document.removeEventListener('keydown', onEscape);
  }, []);

  // Tab and Shift+Tab go round the dialog's controls.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Tab') return;
    const focusable = Array.from(dialogRef.current?.querySelectorAll<HTMLElement>('a[href], button') ?? []);
    if (focusable.length === 0) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  return createPortal(
    <div
      ref={dialogRef}
      className="lightbox"
      role="dialog"
      aria-modal="true"
      aria-label={name}
      data-testid="lightbox"
      onKeyDown={onKeyDown}
      onClick={onClose}
    >
      <div className="lightbox__bar">
        <span className="lightbox__name">{name}</span>
        <a className="btn btn--small btn--on-brand" href={src} download={name} onClick={(e) => e.stopPropagation()}>
          Download
        </a>
        <button ref={closeRef} type="button" className="btn btn--small btn--on-brand" aria-label="Close image" onClick={(e) => {
            e.stopPropagation();
            onClose();
          }}>
          ×
        </button>
      </div>
      {failed ? (
        // Links are signed for a while (an hour by default): an old chat left open outlives them.
        <p className="lightbox__error" role="alert">
          The image could not be loaded. Its link may have expired: reload the page to get a fresh one.
        </p>
      ) : (
        <img
          className="lightbox__image"
          src={src}
          alt={name}
          width={width ?? undefined}
          height={height ?? undefined}
          onError={() => setFailed(true)}
          data-testid="lightbox-image"
        />
      )}
    </div>,
    document.body,
  );
}
