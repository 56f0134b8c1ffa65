// The upload of one file (PROTOCOL §8): `POST /api/chat/sessions/{id}/attachments`,
// multipart with the part `file`. XMLHttpRequest and not fetch, because
// only XHR reports the bytes sent (`upload.onprogress`) and can be aborted
// mid-body in every browser. Refusals come back as ChatError with the
// server's code (413 attachment_too_large, 415 unsupported_media_type, …).

import { ChatError, type Attachment, type ErrorBody } from '../chat/protocol';
import type { UploadRequest, UploadTransport } from '../chat/uploads';

export type UploadTarget = { serverUrl: string; token: string; sessionId: string };

/** The transport of an UploadDraft for one session. */
export function xhrUploadTransport({ serverUrl, token, sessionId }: UploadTarget): UploadTransport {
  const url = `${serverUrl}/api/chat/sessions/${encodeURIComponent(sessionId)}/attachments`;
  return (file, onProgress) => uploadFile(url, token, file, onProgress);
}

export function uploadFile(url: string, token: string, file: File, onProgress: (loaded: number, total: number) => void): UploadRequest {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Attachment>((resolve, reject) => {
    xhr.open('POST', url);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      const body = parse(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300 && body && typeof body === 'object' && 'id' in body) {
        resolve(body as Attachment);
        return;
      }
      const error = (body as { error?: ErrorBody } | null)?.error;
      reject(new ChatError(error?.code ?? codeForStatus(xhr.status), error?.message ?? `HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new ChatError('network', 'Cannot reach the server'));
    xhr.onabort = () => reject(new ChatError('network', 'Upload cancelled'));
    xhr.ontimeout = () => reject(new ChatError('timeout', 'The upload timed out'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

/** A refusal without the JSON body (a proxy's page, say): the code its status means. */
function codeForStatus(status: number): ChatError['code'] {
  if (status === 413) return 'attachment_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'session_closed';
  if (status === 429) return 'rate_limited';
  return 'internal';
}

function parse(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
