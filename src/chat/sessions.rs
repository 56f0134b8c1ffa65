//! Sessions: open, find, list, take, assign, close. Every state change is a
//! conditional UPDATE, so when two nodes race the database decides; every
//! change returns what it changed ([`Changed`]).

use entities::{message, session};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set, TransactionTrait, TryIntoModel,
};

use super::access::{self, SessionStatus};
use super::changes::{self, Change};
use super::clock::now_ms;
use super::input::{CloseRequest, OpenRequest, validate_content};
use super::messages::append_in;
use super::routing::log;
use super::{Changed, MessageView, Role, SessionView, User, new_id, users};
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

/// [`find`], where another customer's session is `not_found` too (the
/// agent tools: a customer cannot learn that a session exists).
pub async fn find_hidden(
    db: &impl ConnectionTrait,
    user: &User,
    id: &str,
) -> AppResult<session::Model> {
    find(db, user, id).await.map_err(|err| match err {
        AppError::Forbidden(_) => AppError::session_not_found(),
        other => other,
    })
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

/// The refusal for a user who may not do `what` to session `id`:
/// `not_found` (or `forbidden`) when they may not even see it, so its
/// existence is not revealed, else `forbidden` with `why`.
pub async fn refuse(db: &impl ConnectionTrait, user: &User, id: &str, why: &str) -> AppError {
    match find(db, user, id).await {
        Ok(_) => AppError::Forbidden(why.to_string()),
        Err(err) => err,
    }
}

/// What opening a session gave the customer.
#[derive(Debug)]
pub struct Opened {
    pub session: SessionView,
    /// A new session (201), or the customer's open one (200).
    pub created: bool,
}

/// Opens a pending session for a customer, or returns their open one; the
/// message, when given, is stored in it as the customer's, in the same
/// transaction (another node never sees the session without it). The
/// message is validated first: a bad one opens nothing.
pub async fn open(
    db: &DatabaseConnection,
    user: &User,
    req: OpenRequest,
    max_len: usize,
) -> AppResult<Changed<Opened>> {
    if user.role != Role::Customer {
        return Err(AppError::Forbidden("only customers open sessions".into()));
    }
    let content = req
        .message
        .as_deref()
        .map(|m| validate_content(m, max_len))
        .transpose()?;
    let new_row = session::ActiveModel {
        id: Set(new_id()),
        tenant: Set(user.tenant.clone()),
        status: Set(SessionStatus::Pending.as_str().into()),
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
        queued_at: Set(None),
        requeued_from: Set(None),
        rating_score: Set(None),
        rating_comment: Set(None),
        rated_at: Set(None),
    };
    let txn = db.begin().await?;
    // The partial unique index allows one open session per customer: when
    // another request opened one first, this inserts nothing and that one
    // is the answer. (A write first: SQLite takes its write lock at once.)
    let inserted = session::Entity::insert(new_row.clone())
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await;
    let created = match inserted {
        Ok(rows) => rows == 1,
        Err(DbErr::RecordNotInserted) => false,
        Err(err) => return Err(err.into()),
    };
    let mut row = if created {
        new_row.try_into_model()?
    } else {
        open_session_of(&txn, user)
            .await?
            .ok_or_else(|| AppError::Conflict("the open session changed, try again".into()))?
    };
    let mut stored = None;
    if let Some(content) = content {
        let appended = append_in(&txn, user, &row.id, Condition::all(), content, None, &[])
            .await?
            .ok_or(AppError::SessionClosed)?;
        row = appended.session.clone();
        stored = Some(MessageView::from(&appended.message));
    }
    let view = users::session_view(&txn, &row).await?;
    let mut changed = Vec::new();
    if created {
        changed.push(Change::SessionOpened(view.clone()));
    }
    changed.extend(stored.map(Change::MessageStored));
    changes::commit(txn, &user.tenant, &changed).await?;
    let opened = Opened {
        session: view,
        created,
    };
    Ok(Changed::new(&user.tenant, opened, changed))
}

async fn open_session_of(
    db: &impl ConnectionTrait,
    user: &User,
) -> AppResult<Option<session::Model>> {
    Ok(open_session_query(user).one(db).await?)
}

/// The query that finds the customer's open session. Public for the
/// query-plan test.
pub fn open_session_query(user: &User) -> Select<session::Entity> {
    session::Entity::find()
        .filter(session::Column::Tenant.eq(&user.tenant))
        .filter(session::Column::CustomerId.eq(&user.id))
        .filter(session::Column::Status.ne(SessionStatus::Closed.as_str()))
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
/// there is a next page. Public for the query-plan test.
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
        let status = SessionStatus::parse(status)?;
        query = query.filter(session::Column::Status.eq(status.as_str()));
    }
    if let Some(after_id) = after_id {
        query = query.filter(session::Column::Id.lt(after_id));
    }
    Ok(query.order_by_desc(session::Column::Id).limit(limit + 1))
}

/// An agent (or admin) takes a pending session for themself. `Ok(None)`:
/// someone else holds it (the caller decides: watch, or `conflict`).
pub async fn take(
    db: &DatabaseConnection,
    user: &User,
    row: &session::Model,
) -> AppResult<Option<Changed<session::Model>>> {
    if !user.role.is_staff() {
        return Err(AppError::Forbidden("only agents take sessions".into()));
    }
    access::ensure_open(row)?;
    if row.agent_id.as_deref() == Some(user.id.as_str()) {
        return Ok(Some(Changed::nothing(&user.tenant, row.clone())));
    }
    let txn = db.begin().await?;
    let now = now_ms();
    log::lock_agent(&txn, &user.tenant, &user.id, now).await?;
    let result = session::Entity::update_many()
        .col_expr(
            session::Column::Status,
            Expr::value(SessionStatus::Active.as_str()),
        )
        .col_expr(session::Column::AgentId, Expr::value(user.id.clone()))
        .col_expr(
            session::Column::AssignedAt,
            Expr::col(session::Column::AssignedAt).if_null(assigned_at(now)),
        )
        .col_expr(session::Column::RequeuedFrom, Expr::value(None::<String>))
        .filter(session::Column::Id.eq(&row.id))
        .filter(session::Column::Status.eq(SessionStatus::Pending.as_str()))
        .exec(&txn)
        .await?;
    let current = reload(&txn, &row.id).await?;
    if result.rows_affected == 1 {
        log::record_from_queue(&txn, &user.tenant, &row.id, &user.id, now).await?;
        let changed = vec![Change::SessionAssigned {
            session: users::session_view(&txn, &current).await?,
            previous: None,
        }];
        changes::commit(txn, &user.tenant, &changed).await?;
        return Ok(Some(Changed::new(&user.tenant, current, changed)));
    }
    txn.rollback().await?;
    access::ensure_open(&current)?;
    Ok((current.agent_id.as_deref() == Some(user.id.as_str()))
        .then(|| Changed::nothing(&user.tenant, current)))
}

/// `POST …/assign`: an agent takes a pending session for themself (another
/// agent's is `conflict`); an admin assigns or transfers it to any staff
/// member of the tenant the server knows.
pub async fn assign(
    db: &DatabaseConnection,
    user: &User,
    session_id: &str,
    agent_id: Option<String>,
) -> AppResult<Changed<SessionView>> {
    let row = find(db, user, session_id).await?;
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "only agents and admins assign sessions".into(),
        ));
    }
    let target = agent_id.unwrap_or_else(|| user.id.clone());
    let changed = if user.role == Role::Admin || target != user.id {
        transfer(db, user, &row, &target).await?
    } else {
        take(db, user, &row)
            .await?
            .ok_or_else(|| AppError::Conflict("another agent holds this session".into()))?
    };
    let view = match changed.changes.first() {
        Some(Change::SessionAssigned { session, .. }) => session.clone(),
        _ => users::session_view(db, &changed.value).await?,
    };
    Ok(Changed::new(&user.tenant, view, changed.changes))
}

/// An admin assigns (or transfers) a session to a staff member of the
/// tenant the server knows. `assignedAt` keeps the first assignment.
async fn transfer(
    db: &DatabaseConnection,
    user: &User,
    row: &session::Model,
    agent_id: &str,
) -> AppResult<Changed<session::Model>> {
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
    let txn = db.begin().await?;
    let now = now_ms();
    // The agent's row first (the lock order of `routing::log`); then what
    // the session was, read after the write lock, decides whether this is
    // an assignment from the queue.
    log::lock_agent(&txn, &user.tenant, agent_id, now).await?;
    let before = reload(&txn, &row.id).await?;
    let result = session::Entity::update_many()
        .col_expr(
            session::Column::Status,
            Expr::value(SessionStatus::Active.as_str()),
        )
        .col_expr(session::Column::AgentId, Expr::value(agent_id.to_string()))
        .col_expr(
            session::Column::AssignedAt,
            Expr::col(session::Column::AssignedAt).if_null(assigned_at(now)),
        )
        .col_expr(session::Column::RequeuedFrom, Expr::value(None::<String>))
        .filter(session::Column::Id.eq(&row.id))
        .filter(session::Column::Status.eq(before.status.clone()))
        .filter(session::Column::Status.ne(SessionStatus::Closed.as_str()))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        txn.rollback().await?;
        let current = reload(db, &row.id).await?;
        access::ensure_open(&current)?;
        return Err(AppError::Conflict(
            "the session changed meanwhile, try again".into(),
        ));
    }
    let current = reload(&txn, &row.id).await?;
    if current.agent_id == before.agent_id {
        // Already theirs: nothing changed, not even their last assignment.
        txn.rollback().await?;
        return Ok(Changed::nothing(&user.tenant, current));
    }
    if SessionStatus::Pending.is(&before) {
        log::record_from_queue(&txn, &user.tenant, &row.id, agent_id, now).await?;
    }
    let changed = vec![Change::SessionAssigned {
        session: users::session_view(&txn, &current).await?,
        previous: before.agent_id.clone(),
    }];
    changes::commit(txn, &user.tenant, &changed).await?;
    Ok(Changed::new(&user.tenant, current, changed))
}

/// This node's clock (`now`), but not before the session was created:
/// another node's clock may be behind the one that stamped `created_at`,
/// and a negative wait would skew `avgWaitSeconds`.
fn assigned_at(now: i64) -> SimpleExpr {
    Expr::case(
        Expr::col(session::Column::CreatedAt).gt(now),
        Expr::col(session::Column::CreatedAt),
    )
    .finally(Expr::value(now))
    .into()
}

/// Closes a session. Closing a closed one returns it and changes nothing.
pub async fn close(
    db: &DatabaseConnection,
    user: &User,
    req: &CloseRequest,
) -> AppResult<Changed<SessionView>> {
    let row = find_participant(db, user, &req.session_id).await?;
    if SessionStatus::Closed.is(&row) {
        let view = users::session_view(db, &row).await?;
        return Ok(Changed::nothing(&user.tenant, view));
    }
    let txn = db.begin().await?;
    let result = session::Entity::update_many()
        .col_expr(
            session::Column::Status,
            Expr::value(SessionStatus::Closed.as_str()),
        )
        .col_expr(session::Column::ClosedAt, Expr::value(now_ms()))
        .col_expr(session::Column::ClosedById, Expr::value(user.id.clone()))
        .col_expr(
            session::Column::CloseReason,
            Expr::value(req.reason.clone()),
        )
        .filter(session::Column::Id.eq(&row.id))
        .filter(session::Column::Status.ne(SessionStatus::Closed.as_str()))
        .exec(&txn)
        .await?;
    let view = users::session_view(&txn, &reload(&txn, &row.id).await?).await?;
    let changed = if result.rows_affected == 1 {
        vec![Change::SessionClosed {
            session: view.clone(),
            closed_by: user.user_ref(),
            reason: req.reason.clone(),
        }]
    } else {
        Vec::new()
    };
    changes::commit(txn, &user.tenant, &changed).await?;
    Ok(Changed::new(&user.tenant, view, changed))
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
