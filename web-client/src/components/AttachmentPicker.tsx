import { useRef } from 'react';
import { PaperclipIcon } from './FileIcon';

type Props = {
  onFiles: (files: File[]) => void;
  disabled?: boolean;
};

/**
 * The paperclip: a labelled button that opens the file picker (several
 * files at once). The input itself stays hidden and out of the tab order.
 */
export function AttachmentPicker({ onFiles, disabled }: Props) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button
        type="button"
        className="btn btn--ghost composer__attach"
        aria-label="Attach files"
        title="Attach files"
        disabled={disabled}
        onClick={() => input.current?.click()}
      >
        <PaperclipIcon />
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        tabIndex={-1}
        aria-hidden="true"
        data-testid="attachment-input"
        onChange={(e) => {
          const files = Array.from(e.currentTarget.files ?? []);
          // Cleared, so choosing the same file again fires change again.
          e.currentTarget.value = '';
          if (files.length) onFiles(files);
        }}
      />
    </>
  );
}
