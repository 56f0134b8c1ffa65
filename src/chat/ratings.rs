//! Ratings (docs/protocol.md §11): the customer of a closed session rates
//! it once, 1 to 5 with an optional comment. Set by one conditional update
//! (still unrated, closed), so two tabs or two nodes rating at once leave
//! exactly one rating; the loser is told `conflict`.

use entities::session;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::Value;

use super::access::SessionStatus;
use super::clock::now_ms;
use super::input::Fields;
use super::routing::{Defaults, settings};
use super::{Change, Changed, Role, SessionView, User, changes, sessions, users};
use crate::error::{AppError, AppResult};

/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// `rate-session` / `POST …/rating`. The score and comment are checked
/// after who may rate (`rating` holds their verdict until then).
#[derive(Debug)]
pub struct RateRequest {
    pub session_id: String,
    pub rating: AppResult<(i32, Option<String>)>,
}

// The body `parse_rating` reads, as a type for the OpenAPI document.

/// `POST /api/chat/sessions/{id}/rating` (the session's customer, closed).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RateBody {
    #[schema(minimum = 1, maximum = 5)]
    pub score: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000)]
    pub comment: Option<String>,
}

impl RateRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let session_id = Fields::of(value)?.id("sessionId")?;
        Self::parse_body(session_id, value)
    }

    pub fn parse_body(session_id: String, value: &Value) -> AppResult<Self> {
        Ok(Self {
            session_id,
            rating: parse_rating(value),
        })
    }
}

fn parse_rating(value: &Value) -> AppResult<(i32, Option<String>)> {
    let fields = Fields::of(value)?;
    let score = match value.get("score") {
        Some(Value::Number(n)) => n.as_i64().filter(|s| (1..=5).contains(s)),
        _ => None,
    }
    .ok_or_else(|| AppError::invalid("score must be an integer from 1 to 5"))?;
    let comment = fields.opt_text("comment", MAX_COMMENT_CHARS)?;
    Ok((score as i32, comment))
}

/// Rates a closed session as its customer.
pub async fn rate(
    db: &DatabaseConnection,
    defaults: &Defaults,
    user: &User,
    req: RateRequest,
) -> AppResult<Changed<SessionView>> {
    // Another customer's session: as unknown.
    let row = sessions::find_hidden(db, user, &req.session_id).await?;
    if user.role != Role::Customer {
        return Err(AppError::Forbidden(
            "only the session's customer may rate it".into(),
        ));
    }
    if !settings::load(db, defaults, &user.tenant)
        .await?
        .ratings_enabled
    {
        return Err(AppError::Forbidden("ratings are turned off".into()));
    }
    let (score, comment) = req.rating?;
    if !SessionStatus::Closed.is(&row) {
        return Err(AppError::Conflict(
            "a session is rated once it is closed".into(),
        ));
    }
    let txn = db.begin().await?;
    let rated = session::Entity::update_many()
        .col_expr(session::Column::RatingScore, Expr::value(score))
        .col_expr(session::Column::RatingComment, Expr::value(comment))
        .col_expr(session::Column::RatedAt, Expr::value(now_ms()))
        .filter(session::Column::Id.eq(&row.id))
        .filter(session::Column::Status.eq(SessionStatus::Closed.as_str()))
        .filter(session::Column::RatingScore.is_null())
        .exec(&txn)
        .await?;
    if rated.rows_affected != 1 {
        txn.rollback().await?;
        return Err(AppError::Conflict("this session was rated already".into()));
    }
    let row = sessions::reload(&txn, &row.id).await?;
    let view = users::session_view(&txn, &row).await?;
    let changes = vec![Change::SessionRated(view.clone())];
    changes::commit(txn, &user.tenant, &changes).await?;
    Ok(Changed::new(&user.tenant, view, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_body_is_what_its_parser_reads() {
        let body = RateBody {
            score: 4,
            comment: Some("quick".into()),
        };
        let parsed = parse_rating(&serde_json::to_value(&body).unwrap()).unwrap();
        assert_eq!(parsed, (body.score, body.comment));
    }
}
