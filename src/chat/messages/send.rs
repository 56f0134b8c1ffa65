//! `send-message`: check, then store through the group commit, falling back
//! to the one-by-one path for the exact error or a retry's original. A
//! message with attachments takes the one-by-one path: it is rare, and its
//! transaction also takes the attachments (docs/protocol.md §9).

use sea_orm::DatabaseConnection;

use super::append::{Appended, append_valid};
use super::group_commit::{Append, GroupCommit, Outcome};
use crate::chat::attachments::Attachments;
use crate::chat::input::{SendRequest, validate_message};
use crate::chat::{Change, Changed, MessageView, User, sessions};
use crate::error::AppResult;

/// A message, and whether it was stored now (false: a retry of a stored one).
#[derive(Debug)]
pub struct Sent {
    pub message: MessageView,
    pub is_new: bool,
}

/// Checks the request and appends the message (docs/protocol.md §4
/// send-message).
///
/// Valid content goes to the group commit, which checks access, the
/// session's state and the `clientMessageId` in its UPDATE; anything it
/// did not store is checked here one step at a time, for the exact error
/// (or a retry's original). Access is checked before the content, so an
/// outsider learns nothing from a content error.
pub async fn send(
    db: &DatabaseConnection,
    writer: &GroupCommit,
    attachments: &Attachments,
    user: &User,
    req: SendRequest,
    max_len: usize,
) -> AppResult<Changed<Sent>> {
    let content = match validate_message(&req.content, max_len, !req.attachments.is_empty()) {
        Ok(content) => content,
        Err(err) => {
            sessions::find_participant(db, user, &req.session_id).await?;
            return Err(err);
        }
    };
    let appended = if req.attachments.is_empty() {
        let append = Append {
            user: user.clone(),
            session_id: req.session_id,
            content,
            client_message_id: req.client_message_id,
        };
        match writer.append(append).await? {
            Outcome::Stored(appended) => *appended,
            Outcome::Check(append) => {
                let row = sessions::find_participant(db, user, &append.session_id).await?;
                append_valid(
                    db,
                    user,
                    &row,
                    append.content,
                    append.client_message_id,
                    &[],
                )
                .await?
            }
        }
    } else {
        let row = sessions::find_participant(db, user, &req.session_id).await?;
        let cmid = req.client_message_id;
        append_valid(db, user, &row, content, cmid, &req.attachments).await?
    };
    let message = view(db, attachments, &appended).await?;
    let changes = if appended.is_new {
        vec![Change::MessageStored(message.clone())]
    } else {
        Vec::new()
    };
    let sent = Sent {
        message,
        is_new: appended.is_new,
    };
    Ok(Changed::new(&user.tenant, sent, changes))
}

/// The message as it goes out: with the attachments it took, or (a
/// retry's original) those read back.
async fn view(
    db: &DatabaseConnection,
    attachments: &Attachments,
    appended: &Appended,
) -> AppResult<MessageView> {
    if appended.attachments.is_empty() && appended.message.attachments > 0 {
        return attachments.message(db, &appended.message).await;
    }
    let mut message = MessageView::from(&appended.message);
    message.attachments = appended
        .attachments
        .iter()
        .map(|row| attachments.view(row))
        .collect();
    Ok(message)
}
