// The attachments draft of one chat as React state: an UploadDraft
// (chat/uploads.ts) sending to this session with the XMLHttpRequest
// transport (lib/upload.ts). Leaving the chat aborts what still uploads.

import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { Attachment } from '../chat/protocol';
import { UploadDraft, type UploadsSnapshot } from '../chat/uploads';
import { xhrUploadTransport } from '../lib/upload';
import { websocketConfig } from '../websocket.config';

export type UseUploadsResult = UploadsSnapshot & {
  /** There is a session (and a token) to upload to. */
  enabled: boolean;
  add: (files: Iterable<File>) => void;
  remove: (key: string) => void;
  /** The uploaded attachments for Send; they leave the draft. */
  takeReady: () => Attachment[];
};

type Options = { sessionId: string | null | undefined; token: string | null; serverUrl: string };

const empty: UploadsSnapshot = { items: [], uploading: false, ready: [] };
const noSubscribe = () => () => {};
const emptySnapshot = () => empty;

export function useUploads({ sessionId, token, serverUrl }: Options): UseUploadsResult {
  const [draft, setDraft] = useState<UploadDraft | null>(null);

  useEffect(() => {
    if (!sessionId || !token) return;
    const d = new UploadDraft(xhrUploadTransport({ serverUrl, token, sessionId }), {
      maxBytes: websocketConfig.attachmentMaxBytes,
    });
    setDraft(d);
    return () => {
      d.dispose();
      setDraft((current) => (current === d ? null : current));
    };
  }, [sessionId, token, serverUrl]);

  const snapshot = useSyncExternalStore(
    draft?.subscribe ?? noSubscribe,
    draft?.getSnapshot ?? emptySnapshot,
    draft?.getSnapshot ?? emptySnapshot,
  );

  const draftRef = useRef(draft);
  draftRef.current = draft;
  const add = useCallback((files: Iterable<File>) => void draftRef.current?.add(files), []);
  const remove = useCallback((key: string) => draftRef.current?.remove(key), []);
  const takeReady = useCallback(() => draftRef.current?.takeReady() ?? [], []);

  return { ...snapshot, enabled: draft !== null, add, remove, takeReady };
}
