//! Transcripts (docs/protocol.md §11): a session as plain text, a header of
//! `Key: value` lines, a blank line, then one entry per message (its
//! attachments listed under it) and, for staff, per note, in time order.
//! Streamed a page of messages at a time, so a session of any length is
//! never held whole.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use entities::{attachment, message, note, session};
use futures_util::Stream;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::attachments::of_messages_query;
use super::views::SessionView;
use super::{User, notes, sessions, users};
use crate::error::AppResult;

/// Messages read per page.
const PAGE: u64 = 500;

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn when(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The session's transcript for `user` (its customer, or staff of the
/// tenant): the file name and the text, streamed.
pub async fn transcript(
    db: &DatabaseConnection,
    user: &User,
    session_id: &str,
) -> AppResult<(String, impl Stream<Item = AppResult<Bytes>> + use<>)> {
    let row = sessions::find_hidden(db, user, session_id).await?;
    let session = users::session_view(db, &row).await?;
    let notes: VecDeque<note::Model> = if user.role.is_staff() {
        notes::list_query(&row.id).all(db).await?.into()
    } else {
        VecDeque::new()
    };
    let name = format!("session-{}.txt", row.id);
    let state = Pages {
        db: db.clone(),
        session_id: row.id.clone(),
        after_seq: 0,
        notes,
        header: Some(header(&row, &session)),
        done: false,
    };
    Ok((name, futures_util::stream::unfold(state, next_chunk)))
}

struct Pages {
    db: DatabaseConnection,
    session_id: String,
    after_seq: i64,
    /// The notes not written yet, oldest first.
    notes: VecDeque<note::Model>,
    header: Option<String>,
    done: bool,
}

async fn next_chunk(mut state: Pages) -> Option<(AppResult<Bytes>, Pages)> {
    if let Some(header) = state.header.take() {
        return Some((Ok(Bytes::from(header)), state));
    }
    if state.done {
        return None;
    }
    match page(&mut state).await {
        Ok(text) => Some((Ok(Bytes::from(text)), state)),
        Err(err) => {
            state.done = true;
            Some((Err(err), state))
        }
    }
}

/// The next page of messages, with the notes that come before each and,
/// after the last page, the notes left.
async fn page(state: &mut Pages) -> AppResult<String> {
    let rows = message::Entity::find()
        .filter(message::Column::SessionId.eq(&state.session_id))
        .filter(message::Column::Seq.gt(state.after_seq))
        .order_by_asc(message::Column::Seq)
        .limit(PAGE)
        .all(&state.db)
        .await?;
    let with: Vec<&str> = rows
        .iter()
        .filter(|m| m.attachments > 0)
        .map(|m| m.id.as_str())
        .collect();
    let mut files: HashMap<String, Vec<attachment::Model>> = HashMap::new();
    if !with.is_empty() {
        for row in of_messages_query(&with).all(&state.db).await? {
            files
                .entry(row.message_id.clone().unwrap_or_default())
                .or_default()
                .push(row);
        }
    }
    let mut out = String::new();
    for m in &rows {
        // A note written before the message (or at the same time: the
        // message first) goes before it.
        while state
            .notes
            .front()
            .is_some_and(|n| n.created_at < m.created_at)
        {
            if let Some(note) = state.notes.pop_front() {
                out.push_str(&note_entry(&note));
            }
        }
        out.push_str(&message_entry(m, files.remove(&m.id).unwrap_or_default()));
    }
    match rows.last() {
        Some(last) if rows.len() as u64 == PAGE => state.after_seq = last.seq,
        _ => {
            for note in state.notes.drain(..) {
                out.push_str(&note_entry(&note));
            }
            state.done = true;
        }
    }
    Ok(out)
}

/// The `Key: value` lines: times from the row, names from its view.
fn header(row: &session::Model, session: &SessionView) -> String {
    let name = |r: &super::UserRef| r.name.clone().unwrap_or_else(|| r.id.clone());
    let rating = session.rating.as_ref().map_or_else(
        || "-".to_string(),
        |r| match &r.comment {
            Some(comment) => format!("{}/5 \"{}\"", r.score, one_line(comment)),
            None => format!("{}/5", r.score),
        },
    );
    let opened = when(row.created_at);
    let closed = row.closed_at.map_or_else(|| "-".to_string(), when);
    format!(
        "Subject: {}\nCustomer: {}\nAgent: {}\nOpened: {opened}\nClosed: {closed}\nRating: {rating}\n\n",
        one_line(session.subject.as_deref().unwrap_or("-")),
        one_line(&name(&session.customer)),
        session
            .agent
            .as_ref()
            .map_or_else(|| "-".to_string(), |a| one_line(&name(a))),
    )
}

fn message_entry(m: &message::Model, mut files: Vec<attachment::Model>) -> String {
    let name = m.sender_name.clone().unwrap_or_else(|| m.sender_id.clone());
    let mut out = format!(
        "[{}] {} ({}): {}\n",
        when(m.created_at),
        one_line(&name),
        m.sender_role,
        indented(&m.content)
    );
    files.sort_by_key(|f| f.position);
    for file in files {
        out.push_str(&format!(
            "    [attachment: {}, {} bytes]\n",
            one_line(&file.name),
            file.size
        ));
    }
    out
}

fn note_entry(note: &note::Model) -> String {
    let name = note
        .author_name
        .clone()
        .unwrap_or_else(|| note.author_id.clone());
    format!(
        "[{}] [note] {}: {}\n",
        when(note.created_at),
        one_line(&name),
        indented(&note.content)
    )
}

/// Content over several lines: the lines after the first indented by four
/// spaces, so every line starting with `[` starts an entry.
fn indented(content: &str) -> String {
    content
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\n    ")
}

/// A name or subject on one line.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_to_the_second() {
        assert_eq!(when(1_796_030_102_999), "2026-11-30 09:15:02 UTC");
    }

    #[test]
    fn continuation_lines_are_indented() {
        assert_eq!(indented("a\nb\r\nc"), "a\n    b\n    c");
    }
}
