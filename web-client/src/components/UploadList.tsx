import type { UploadItem } from '../chat/uploads';
import { formatBytes } from '../lib/format';

type Props = {
  items: readonly UploadItem[];
  onRemove: (key: string) => void;
};

/**
 * The files of the message being written: a progress bar while each
 * uploads, "ready" once uploaded, or why it was refused; the × of each
 * cancels the upload, takes the file out, or dismisses the error.
 */
export function UploadList({ items, onRemove }: Props) {
  if (items.length === 0) return null;
  return (
    <ul className="uploads" aria-label="Attachments to send" data-testid="uploads">
      {items.map((item) => (
        <li key={item.key} className={`upload upload--${item.status}`} data-testid="upload" data-status={item.status}>
          {item.status === 'failed' ? (
            <p className="upload__error" role="alert" data-testid="upload-error">
              {item.error}
            </p>
          ) : (
            <>
              <span className="upload__name" title={item.name}>
                {item.name}
              </span>
              <span className="upload__size">{formatBytes(item.size)}</span>
              {item.status === 'uploading' ? <Progress item={item} /> : <span className="upload__ready">Ready</span>}
            </>
          )}
          <button type="button" className="upload__remove" aria-label={removeLabel(item)} title={removeLabel(item)} onClick={() => onRemove(item.key)}>
            <span aria-hidden="true">×</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function Progress({ item }: { item: UploadItem }) {
  const percent = item.total > 0 ? Math.min(100, Math.floor((item.loaded / item.total) * 100)) : 0;
  return (
    <div
      className="upload__progress"
      role="progressbar"
      aria-label={`Uploading ${item.name}`}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      aria-valuetext={`${percent}%`}
      data-testid="upload-progress"
    >
      <span className="upload__bar" style={{ width: `${percent}%` }} />
    </div>
  );
}

function removeLabel(item: UploadItem): string {
  if (item.status === 'uploading') return `Cancel upload of ${item.name}`;
  if (item.status === 'failed') return 'Dismiss';
  return `Remove ${item.name}`;
}
