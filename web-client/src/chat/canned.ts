// The pure rules of canned responses (PROTOCOL §10) in the agent's
// composer and on the settings page: where a `/query` is being typed, which
// responses it matches and in what order, the placeholders filled in, the
// text after inserting one, and the checks of the settings form. No React
// here, so these rules are unit-tested on their own (test/canned.test.ts).

import { ChatError, type CannedResponse, type UserRef } from './protocol';

/** The server's rule for a shortcut (the `/` is not part of it). */
export const SHORTCUT_PATTERN = /^[a-z0-9_-]{1,32}$/;
export const SHORTCUT_HELP = 'Lowercase letters, digits, _ and -, up to 32 characters.';
export const TITLE_MAX = 200;

/** A `/query` at the caret: the slash at `start`, the token running to `end`, `query` what is typed after the slash. */
export type SlashQuery = { start: number; end: number; query: string };

const SPACE = /\s/;

/**
 * The `/query` the caret is in, if any: a `/` at the start of the text or
 * right after whitespace, then no whitespace (nor another `/`) up to the
 * caret. "http://x" and "and/or" are not queries; "Hi /ref" is.
 */
export function slashQueryAt(text: string, caret: number): SlashQuery | null {
  const at = Math.max(0, Math.min(caret, text.length));
  let i = at - 1;
  while (i >= 0 && text[i] !== '/' && !SPACE.test(text[i])) i -= 1;
  if (i < 0 || text[i] !== '/') return null;
  if (i > 0 && !SPACE.test(text[i - 1])) return null;
  let end = at;
  while (end < text.length && !SPACE.test(text[end])) end += 1;
  return { start: i, end, query: text.slice(i + 1, at) };
}

/**
 * The responses a query matches, best first: those whose shortcut starts
 * with it, then those whose shortcut, title or content contains it (case
 * insensitive); each group by shortcut. An empty query matches them all.
 */
export function filterCanned(responses: readonly CannedResponse[], query: string): CannedResponse[] {
  const q = query.trim().toLowerCase();
  const sorted = [...responses].sort((a, b) => (a.shortcut < b.shortcut ? -1 : a.shortcut > b.shortcut ? 1 : 0));
  if (!q) return sorted;
  const prefix: CannedResponse[] = [];
  const contains: CannedResponse[] = [];
  for (const r of sorted) {
    const shortcut = r.shortcut.toLowerCase();
    if (shortcut.startsWith(q)) prefix.push(r);
    else if (shortcut.includes(q) || (r.title ?? '').toLowerCase().includes(q) || r.content.toLowerCase().includes(q)) {
      contains.push(r);
    }
  }
  return [...prefix, ...contains];
}

export type PlaceholderValues = { customerName: string; agentName: string };

/** Who `{{customer.name}}` and `{{agent.name}}` are: the name when known, else the id. */
export function placeholderValues(customer: UserRef | null | undefined, agent: UserRef | null | undefined): PlaceholderValues {
  const nameOf = (u: UserRef | null | undefined, fallback: string) => u?.name?.trim() || u?.id || fallback;
  return { customerName: nameOf(customer, 'there'), agentName: nameOf(agent, 'your agent') };
}

/** Fills in the placeholders (spaces inside the braces allowed); anything else is left as written. */
export function fillPlaceholders(content: string, values: PlaceholderValues): string {
  return content
    .replace(/\{\{\s*customer\.name\s*\}\}/g, () => values.customerName)
    .replace(/\{\{\s*agent\.name\s*\}\}/g, () => values.agentName);
}

/** The text with `/query` replaced by `content`, and where the caret goes (right after it). */
export function insertCanned(text: string, slash: SlashQuery, content: string): { text: string; caret: number } {
  const before = text.slice(0, slash.start);
  const after = text.slice(slash.end);
  return { text: before + content + after, caret: before.length + content.length };
}

/** A first line of the content, for the picker. */
export function contentPreview(content: string, max = 80): string {
  const flat = content.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// ---- the settings form -------------------------------------------------------

export type CannedDraft = { shortcut: string; title: string; content: string };
export type CannedDraftErrors = Partial<Record<keyof CannedDraft, string>>;
export type CannedBody = { shortcut: string; title: string | null; content: string };

export function emptyDraft(): CannedDraft {
  return { shortcut: '', title: '', content: '' };
}

export function draftOf(response: CannedResponse): CannedDraft {
  return { shortcut: response.shortcut, title: response.title ?? '', content: response.content };
}

/**
 * The draft as the server will store it (trimmed; an empty title is null)
 * and what is wrong with it by the server's rules. A leading `/` typed out
 * of habit is dropped. The server checks again (and the length of the
 * content, whose limit only it knows).
 */
export function checkDraft(draft: CannedDraft): { body: CannedBody; errors: CannedDraftErrors } {
  const body: CannedBody = {
    shortcut: draft.shortcut.trim().replace(/^\//, ''),
    title: draft.title.trim() || null,
    content: draft.content.trim(),
  };
  const errors: CannedDraftErrors = {};
  if (!SHORTCUT_PATTERN.test(body.shortcut)) {
    errors.shortcut = body.shortcut ? `Not a valid shortcut. ${SHORTCUT_HELP}` : 'A shortcut is required.';
  }
  if ((body.title ?? '').length > TITLE_MAX) errors.title = `At most ${TITLE_MAX} characters.`;
  if (!body.content) errors.content = 'The text is required.';
  return { body, errors };
}

/** The fields of `body` that differ from the stored response: what a PATCH sends. */
export function changedFields(saved: CannedResponse, body: CannedBody): Partial<CannedBody> {
  const patch: Partial<CannedBody> = {};
  if (body.shortcut !== saved.shortcut) patch.shortcut = body.shortcut;
  if (body.title !== (saved.title ?? null)) patch.title = body.title;
  if (body.content !== saved.content) patch.content = body.content;
  return patch;
}

/** A refusal of the server, in words for the settings form. */
export function describeCannedError(err: unknown): string {
  if (err instanceof ChatError) {
    if (err.code === 'conflict') return 'That shortcut is taken.';
    if (err.code === 'forbidden') return 'Only administrators can change canned responses.';
    if (err.code === 'not_found') return 'This canned response no longer exists (deleted meanwhile?).';
    if (err.code === 'message_too_long') return `The text is too long for this server (${err.message}).`;
    return err.message;
  }
  return (err as Error)?.message ?? String(err);
}
