import { useState } from 'react';
import { fetchTranscript, saveBlob } from '../lib/transcript';
import './agentTools.css';

type Props = { token: string; sessionId: string; serverUrl?: string };

/**
 * "Download transcript" in the agent's chat header (PROTOCOL §10): the
 * server's text file, notes included for staff, saved as `session-{id}.txt`.
 */
export function TranscriptButton({ token, sessionId, serverUrl }: Props) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const download = async () => {
    setBusy(true);
    setError(null);
    try {
      const { blob, filename } = await fetchTranscript(token, sessionId, serverUrl);
      saveBlob(blob, filename);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <button
        type="button"
        className="btn btn--ghost btn--small"
        onClick={() => void download()}
        disabled={busy}
        data-testid="transcript-button"
        title="The conversation and its notes, as a text file"
      >
        {busy ? 'Downloading…' : 'Download transcript'}
      </button>
      {error ? (
        <span className="transcript-error small" role="alert" data-testid="transcript-error">
          Transcript not downloaded: {error}
        </span>
      ) : null}
    </>
  );
}
