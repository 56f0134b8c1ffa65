import { contentPreview } from '../chat/canned';
import type { CannedPicker as Picker } from '../hooks/useCannedPicker';
import './agentTools.css';

/**
 * The list under a `/query` in the agent's composer: shortcut, title and
 * the start of the content of each match. Up/Down move, Enter or a click
 * inserts, Escape closes (useCannedPicker); the textarea keeps the focus
 * (aria-activedescendant names the highlighted row).
 */
export function CannedPicker({ picker }: { picker: Picker }) {
  if (!picker.open) return null;
  return (
    <div className="canned-picker" data-testid="canned-picker">
      {picker.items.length === 0 ? (
        <p className="canned-picker__empty muted small" role="status">
          {picker.total === 0
            ? 'No canned responses yet: administrators add them in Settings.'
            : `No canned response matches “/${picker.query}”.`}
        </p>
      ) : (
        <ul id={picker.listId} className="canned-picker__list" role="listbox" aria-label="Canned responses">
          {picker.items.map((r, i) => (
            <li
              key={r.id}
              id={picker.optionId(i)}
              role="option"
              aria-selected={i === picker.active}
              className={`canned-picker__item${i === picker.active ? ' canned-picker__item--active' : ''}`}
              data-testid="canned-option"
              data-shortcut={r.shortcut}
              // Keep the focus in the textarea: the click inserts there.
              onMouseDown={(e) => e.preventDefault()}
              onMouseEnter={() => picker.setHighlighted(i)}
              onClick={() => picker.choose(i)}
            >
              <span className="canned-picker__shortcut">/{r.shortcut}</span>
              {r.title ? <span className="canned-picker__title">{r.title}</span> : null}
              <span className="canned-picker__preview">{contentPreview(r.content)}</span>
            </li>
          ))}
        </ul>
      )}
      <span className="visually-hidden" role="status">
        {picker.items.length === 1 ? '1 canned response' : `${picker.items.length} canned responses`}: Up and Down to choose, Enter
        to insert, Escape to close.
      </span>
    </div>
  );
}
