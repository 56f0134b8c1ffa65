import { useId, useState } from 'react';
import { changedFields, describeCannedError, draftOf, emptyDraft, type CannedBody } from '../chat/canned';
import type { CannedResponse } from '../chat/protocol';
import { useCannedResponses } from '../hooks/useCannedResponses';
import { cannedApi } from '../lib/cannedResponses';
import { CannedResponseForm } from './CannedResponseForm';
import './agentTools.css';

type Props = { token: string; canEdit: boolean; serverUrl?: string };

/** What the section is doing: showing the list, adding, editing one, or asking before deleting one. */
type Editing = { kind: 'none' } | { kind: 'new' } | { kind: 'edit'; id: string } | { kind: 'delete'; id: string };

/**
 * The tenant's canned responses on the settings page (PROTOCOL §10):
 * admins list, add, edit and delete them (delete asks first); agents see
 * the list read-only, to learn the shortcuts. Changes go through the page's
 * cache (lib/cannedResponses.ts), which tells the dashboards in other tabs.
 */
export function CannedResponsesSettings({ token, canEdit, serverUrl }: Props) {
  const titleId = useId();
  const canned = useCannedResponses(token, serverUrl);
  const [editing, setEditing] = useState<Editing>({ kind: 'none' });
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);
  const { store, items } = canned;

  if (canned.unsupported) return null; // a v1.2 server: nothing to manage

  const done = (message: string) => {
    setEditing({ kind: 'none' });
    setError(null);
    setStatus(message);
  };

  const create = async (body: CannedBody) => {
    const stored = await cannedApi.create(token, body, serverUrl);
    store?.stored(stored);
    done(`Added /${stored.shortcut}.`);
  };

  const update = async (saved: CannedResponse, body: CannedBody) => {
    const patch = changedFields(saved, body);
    if (Object.keys(patch).length === 0) {
      done('Nothing changed.');
      return;
    }
    const stored = await cannedApi.update(token, saved.id, patch, serverUrl);
    store?.stored(stored);
    done(`Saved /${stored.shortcut}.`);
  };

  const remove = async (response: CannedResponse) => {
    setDeleting(true);
    setError(null);
    try {
      await cannedApi.remove(token, response.id, serverUrl);
      store?.removed(response.id);
      done(`Deleted /${response.shortcut}.`);
    } catch (err) {
      setError(describeCannedError(err));
    } finally {
      setDeleting(false);
    }
  };

  const start = (next: Editing) => {
    setEditing(next);
    setError(null);
    setStatus(null);
  };

  return (
    <section className="card canned-settings" aria-labelledby={titleId} data-testid="canned-settings">
      <h2 id={titleId} className="settings__title">
        Canned responses
      </h2>
      <p className="muted small">
        Saved replies agents insert by typing <code>/</code> and the shortcut in a chat.
        {canEdit ? '' : ' Only administrators can change them.'}
      </p>

      {canned.error ? (
        <p className="form__error" role="alert">
          Could not load the canned responses: {canned.error}{' '}
          <button type="button" className="link-button" onClick={() => void store?.load(true)}>
            Try again
          </button>
        </p>
      ) : null}
      {!items && !canned.error ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {items ? (
        items.length === 0 ? (
          <p className="muted empty">No canned responses yet.</p>
        ) : (
          <ul className="canned-list" aria-label="Canned responses" data-testid="canned-list">
            {items.map((r) =>
              editing.kind === 'edit' && editing.id === r.id ? (
                <li key={r.id}>
                  <CannedResponseForm
                    initial={draftOf(r)}
                    submitLabel={`Save /${r.shortcut}`}
                    onSubmit={(body) => update(r, body)}
                    onCancel={() => start({ kind: 'none' })}
                  />
                </li>
              ) : (
                <li key={r.id} className="canned-row" data-testid="canned-row" data-shortcut={r.shortcut}>
                  <div className="canned-row__head">
                    <code className="canned-picker__shortcut">/{r.shortcut}</code>
                    {r.title ? <strong>{r.title}</strong> : null}
                    {canEdit && editing.kind !== 'delete' ? (
                      <span className="canned-row__actions">
                        <button type="button" className="btn btn--ghost btn--small" onClick={() => start({ kind: 'edit', id: r.id })} aria-label={`Edit /${r.shortcut}`}>
                          Edit
                        </button>
                        <button type="button" className="btn btn--ghost btn--small" onClick={() => start({ kind: 'delete', id: r.id })} aria-label={`Delete /${r.shortcut}`}>
                          Delete
                        </button>
                      </span>
                    ) : null}
                  </div>
                  <p className="canned-row__content">{r.content}</p>
                  {editing.kind === 'delete' && editing.id === r.id ? (
                    <div className="settings__actions" role="group" aria-label={`Delete /${r.shortcut}?`} data-testid="canned-delete-confirm">
                      <span>Delete /{r.shortcut}? Agents will no longer find it.</span>
                      <button type="button" className="btn btn--danger btn--small" onClick={() => void remove(r)} disabled={deleting}>
                        {deleting ? 'Deleting…' : 'Delete'}
                      </button>
                      <button type="button" className="btn btn--ghost btn--small" onClick={() => start({ kind: 'none' })} disabled={deleting}>
                        Keep it
                      </button>
                    </div>
                  ) : null}
                </li>
              ),
            )}
          </ul>
        )
      ) : null}

      {error ? (
        <p className="form__error" role="alert" data-testid="canned-error">
          {error}
        </p>
      ) : null}

      {canEdit && items ? (
        editing.kind === 'new' ? (
          <CannedResponseForm initial={emptyDraft()} submitLabel="Add canned response" onSubmit={create} onCancel={() => start({ kind: 'none' })} />
        ) : (
          <div className="settings__actions">
            <button type="button" className="btn btn--primary btn--small" onClick={() => start({ kind: 'new' })}>
              New canned response
            </button>
            <span className="muted small" role="status" data-testid="canned-status">
              {status}
            </span>
          </div>
        )
      ) : null}
    </section>
  );
}
