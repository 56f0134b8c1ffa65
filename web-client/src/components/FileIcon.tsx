// Small inline icons (SVG, no files to fetch, nothing the page's CSP forbids).

import type { FileKind } from '../chat/attachments';

const svg = { width: 20, height: 20, viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 1.8, strokeLinecap: 'round', strokeLinejoin: 'round' } as const;

export function PaperclipIcon() {
  return (
    <svg {...svg} aria-hidden="true" focusable="false">
      <path d="M21 11.5l-8.6 8.6a5.5 5.5 0 01-7.8-7.8l8.6-8.6a3.7 3.7 0 015.2 5.2l-8.6 8.6a1.8 1.8 0 01-2.6-2.6l7.9-7.9" />
    </svg>
  );
}

const MARKS: Record<FileKind, string> = {
  image: 'IMG',
  pdf: 'PDF',
  document: 'DOC',
  spreadsheet: 'XLS',
  archive: 'ZIP',
  text: 'TXT',
  file: '',
};

/** A page with a folded corner and a short mark of the kind (PDF, DOC, …). */
export function FileIcon({ kind }: { kind: FileKind }) {
  return (
    <svg {...svg} width={28} height={28} aria-hidden="true" focusable="false" className={`file-icon file-icon--${kind}`}>
      <path d="M14 2H6a2 2 0 00-2 2v16a2 2 0 002 2h12a2 2 0 002-2V8z" />
      <path d="M14 2v6h6" />
      {MARKS[kind] ? (
        <text x="12" y="18" textAnchor="middle" fontSize="5.5" fontWeight="700" fill="currentColor" stroke="none">
          {MARKS[kind]}
        </text>
      ) : null}
    </svg>
  );
}
