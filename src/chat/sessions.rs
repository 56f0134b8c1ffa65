//! Sessions: open, find, list, take, assign, close. Every state change is a
//! conditional UPDATE, so when two nodes race the database decides.

use entities::{message, session};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Set, TryIntoModel,
};

use super::access::{self, ACTIVE, CLOSED, PENDING};
use super::clock::now_ms;
use super::input::{CloseRequest, OpenRequest, validate_content};
use super::{Role, User, new_id, users};
use crate::error::{AppError, AppResult};

/// The session, if it exists and the user may see it (§2: another tenant's
/// is `not_found`, another customer's `forbidden`).
pub async fn find(db: &impl ConnectionTrait, user: &User, id: &str) -> AppResult<session::Model> {
    let row = session::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .filter(|row| row.tenant == user.tenant)
        .ok_or_else(AppError::session_not_found)?;
    access::ensure_visible(user, &row)?;
    Ok(row)
}

/// A session the user may send to, mark read or close
/// ([`access::ensure_participant`]).
pub async fn find_participant(
    db: &impl ConnectionTrait,
    user: &User,
    id: &str,
) -> AppResult<session::Model> {
    let row = find(db, user, id).await?;
    access::ensure_participant(user, &row)?;
    Ok(row)
}

/// What opening a session did.
pub struct Opened {
    pub session: session::Model,
    /// A new session (201), or the customer's open one (200).
    pub created: bool,
    /// The message to store in it as the customer's, validated before the
    /// session was opened (see [`super::messages::append_valid`]).
    pub message: Option<String>,
}

/// Opens a pending session for a customer, or returns their open one. The
/// message, when given, is validated first: a bad one opens nothing.
pub async fn open(
    db: &DatabaseConnection,
    user: &User,
    req: OpenRequest,
    max_len: usize,
) -> AppResult<Opened> {
    if user.role != Role::Customer {
        return Err(AppError::Forbidden("only customers open sessions".into()));
    }
    let content = req
        .message
        .as_deref()
        .map(|m| validate_content(m, max_len))
        .transpose()?;
    let (row, created) = match open_session_of(db, user).await? {
        Some(row) => (row, false),
        None => {
            let row = session::ActiveModel {
                id: Set(new_id()),
                tenant: Set(user.tenant.clone()),
                status: Set(PENDING.into()),
                subject: Set(req.subject),
                customer_id: Set(user.id.clone()),
                agent_id: Set(None),
                created_at: Set(now_ms()),
                assigned_at: Set(None),
                closed_at: Set(None),
                closed_by_id: Set(None),
                close_reason: Set(None),
                last_message_at: Set(None),
                last_seq: Set(0),
                unread_count: Set(0),
                first_customer_message_at: Set(None),
                first_response_at: Set(None),
            };
            match session::Entity::insert(row.clone())
                .exec_without_returning(db)
                .await
            {
                Ok(_) => (row.try_into_model()?, true),
                // The partial unique index: another request opened one first.
                Err(err)
                    if AppError::from(err.clone()).code() == crate::error::ErrorCode::Conflict =>
                {
                    let row = open_session_of(db, user)
                        .await?
                        .ok_or_else(|| AppError::from(err))?;
                    (row, false)
                }
                Err(err) => return Err(err.into()),
            }
        }
    };
    Ok(Opened {
        session: row,
        created,
        message: content,
    })
}

async fn open_session_of(
    db: &impl ConnectionTrait,
    user: &User,
) -> AppResult<Option<session::Model>> {
    Ok(open_session_query(user).one(db).await?)
}

/// The query [`open`] runs to find the customer's open session.
pub fn open_session_query(user: &User) -> Select<session::Entity> {
    session::Entity::find()
        .filter(session::Column::Tenant.eq(&user.tenant))
        .filter(session::Column::CustomerId.eq(&user.id))
        .filter(session::Column::Status.ne(CLOSED))
}

/// Sessions the user may list, newest first, `limit` rows after the cursor
/// (the last id of the previous page).
pub async fn list(
    db: &impl ConnectionTrait,
    user: &User,
    status: Option<&str>,
    limit: u64,
    after_id: Option<&str>,
) -> AppResult<(Vec<session::Model>, Option<String>)> {
    let mut rows = list_query(user, status, limit, after_id)?.all(db).await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok((rows, next))
}

/// The query [`list`] runs: one more row than `limit`, to tell whether
/// there is a next page.
pub fn list_query(
    user: &User,
    status: Option<&str>,
    limit: u64,
    after_id: Option<&str>,
) -> AppResult<Select<session::Entity>> {
    let mut query = session::Entity::find().filter(session::Column::Tenant.eq(&user.tenant));
    if user.role == Role::Customer {
        query = query.filter(session::Column::CustomerId.eq(&user.id));
    }
    if let Some(status) = status {
        if ![PENDING, ACTIVE, CLOSED].contains(&status) {
            return Err(AppError::invalid(
                "status must be pending, active or closed",
            ));
        }
        query = query.filter(session::Column::Status.eq(status));
    }
    if let Some(after_id) = after_id {
        query = query.filter(session::Column::Id.lt(after_id));
    }
    Ok(query.order_by_desc(session::Column::Id).limit(limit + 1))
}

/// An agent (or admin) takes a pending session for themself. `Ok(None)`:
/// someone else holds it (the caller decides: watch, or `conflict`).
pub async fn take(
    db: &impl ConnectionTrait,
    user: &User,
    row: &session::Model,
) -> AppResult<Option<session::Model>> {
    if !user.role.is_staff() {
        return Err(AppError::Forbidden("only agents take sessions".into()));
    }
    access::ensure_open(row)?;
    if row.agent_id.as_deref() == Some(user.id.as_str()) {
        return Ok(Some(row.clone()));
    }
    let result = session::Entity::update_many()
        .col_expr(session::Column::Status, Expr::value(ACTIVE))
        .col_expr(session::Column::AgentId, Expr::value(user.id.clone()))
        .col_expr(session::Column::AssignedAt, assigned_now())
        .filter(session::Column::Id.eq(&row.id))
        .filter(session::Column::Status.eq(PENDING))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        return reload(db, &row.id).await.map(Some);
    }
    let current = reload(db, &row.id).await?;
    access::ensure_open(&current)?;
    Ok((current.agent_id.as_deref() == Some(user.id.as_str())).then_some(current))
}

/// An admin assigns (or transfers) a session to a staff member of the
/// tenant the server knows. `assignedAt` keeps the first assignment.
pub async fn transfer(
    db: &impl ConnectionTrait,
    user: &User,
    row: &session::Model,
    agent_id: &str,
) -> AppResult<session::Model> {
    if user.role != Role::Admin && agent_id != user.id {
        return Err(AppError::Forbidden(
            "only admins assign sessions to others".into(),
        ));
    }
    access::ensure_open(row)?;
    if users::find_staff(db, &user.tenant, agent_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("no agent with that id".into()));
    }
    let result = session::Entity::update_many()
        .col_expr(session::Column::Status, Expr::value(ACTIVE))
        .col_expr(session::Column::AgentId, Expr::value(agent_id.to_string()))
        .col_expr(
            session::Column::AssignedAt,
            Expr::col(session::Column::AssignedAt).if_null(assigned_now()),
        )
        .filter(session::Column::Id.eq(&row.id))
        .filter(session::Column::Status.ne(CLOSED))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::SessionClosed);
    }
    reload(db, &row.id).await
}

/// This node's clock, but not before the session was created: another
/// node's clock may be behind the one that stamped `created_at`, and a
/// negative wait would skew `avgWaitSeconds`.
fn assigned_now() -> SimpleExpr {
    let now = now_ms();
    Expr::case(
        Expr::col(session::Column::CreatedAt).gt(now),
        Expr::col(session::Column::CreatedAt),
    )
    .finally(Expr::value(now))
    .into()
}

/// Closes a session. `Ok((row, false))`: it was closed already, unchanged.
pub async fn close(
    db: &impl ConnectionTrait,
    user: &User,
    req: &CloseRequest,
) -> AppResult<(session::Model, bool)> {
    let row = find_participant(db, user, &req.session_id).await?;
    if row.status == CLOSED {
        return Ok((row, false));
    }
    let result = session::Entity::update_many()
        .col_expr(session::Column::Status, Expr::value(CLOSED))
        .col_expr(session::Column::ClosedAt, Expr::value(now_ms()))
        .col_expr(session::Column::ClosedById, Expr::value(user.id.clone()))
        .col_expr(
            session::Column::CloseReason,
            Expr::value(req.reason.clone()),
        )
        .filter(session::Column::Id.eq(&row.id))
        .filter(session::Column::Status.ne(CLOSED))
        .exec(db)
        .await?;
    Ok((reload(db, &row.id).await?, result.rows_affected == 1))
}

pub async fn reload(db: &impl ConnectionTrait, id: &str) -> AppResult<session::Model> {
    session::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(AppError::session_not_found)
}

/// The message `id` of session `session_id`, or `not_found`.
pub async fn message_in(
    db: &impl ConnectionTrait,
    session_id: &str,
    id: &str,
) -> AppResult<message::Model> {
    message::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .filter(|m| m.session_id == session_id)
        .ok_or_else(|| AppError::NotFound("message not found in this session".into()))
}
