// A session's transcript (PROTOCOL §10): `GET /api/chat/sessions/{id}/transcript`
// with the bearer token (a plain link could not send it), saved under the
// server's file name through a temporary blob link.

import { ChatError, type ErrorBody } from '../chat/protocol';
import { websocketConfig } from '../websocket.config';

export type Transcript = { blob: Blob; filename: string };

/** The file name of a `Content-Disposition` header (`filename*=` first), if any. */
export function filenameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain parameter
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(header);
  const name = plain ? (plain[1] ?? plain[2]).replace(/\\(.)/g, '$1') : null;
  // Only a name, never a path.
  return name ? name.split(/[\\/]/).pop() || null : null;
}

export async function fetchTranscript(token: string, sessionId: string, baseUrl: string = websocketConfig.serverUrl): Promise<Transcript> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/api/chat/sessions/${encodeURIComponent(sessionId)}/transcript`, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/plain' },
    });
  } catch (err) {
    throw new ChatError('network', `Cannot reach the server (${(err as Error).message})`);
  }
  if (!response.ok) {
    let error: ErrorBody | undefined;
    try {
      error = ((await response.json()) as { error?: ErrorBody })?.error;
    } catch {
      error = undefined;
    }
    throw new ChatError(error?.code ?? 'internal', error?.message ?? `HTTP ${response.status}`);
  }
  const blob = await response.blob();
  const filename = filenameFromDisposition(response.headers.get('Content-Disposition')) ?? `session-${sessionId}.txt`;
  return { blob, filename };
}

/** Hands a blob to the browser as a download named `filename`. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The download has started from the click; the URL is not needed after it.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
