//! The users the server has seen: recorded from the claims at each
//! connection and REST call, read back to name the people in a session.

use std::collections::HashMap;

use entities::{session, user};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::clock::now_ms;
use super::{Role, SessionView, User, UserRef};
use crate::batch::{Batcher, Batching, shared_failure};
use crate::error::AppResult;

/// Records (or refreshes) users from their tokens' claims: one upsert for
/// many users (each `(tenant, id)` once).
async fn upsert(db: &impl ConnectionTrait, users: &[User]) -> AppResult<()> {
    let seen_at = now_ms();
    let mut rows: HashMap<(&str, &str), user::ActiveModel> = HashMap::new();
    for user in users {
        let row = user::ActiveModel {
            tenant: Set(user.tenant.clone()),
            id: Set(user.id.clone()),
            role: Set(user.role.as_str().to_string()),
            name: Set(user.name.clone()),
            email: Set(user.email.clone()),
            last_seen_at: Set(seen_at),
            ..Default::default()
        };
        rows.insert((&user.tenant, &user.id), row);
    }
    user::Entity::insert_many(rows.into_values())
        .on_conflict(
            OnConflict::columns([user::Column::Tenant, user::Column::Id])
                .update_columns([
                    user::Column::Role,
                    user::Column::Name,
                    user::Column::Email,
                    user::Column::LastSeenAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The most users in one upsert.
const MAX_BATCH: usize = 256;

/// Records the users of concurrent connections in one statement: a
/// connection flood then costs the database one upsert per batch instead
/// of one per socket.
#[derive(Clone)]
pub struct UserRecorder(Batcher<User, AppResult<()>>);

impl UserRecorder {
    pub fn start(db: DatabaseConnection) -> Self {
        let batching = Batching {
            writers: 1,
            max: MAX_BATCH,
            linger: None,
        };
        Self(Batcher::start(batching, move |batch: Vec<User>| {
            let db = db.clone();
            async move {
                let Err(err) = upsert(&db, &batch).await else {
                    return batch.iter().map(|_| Ok(())).collect();
                };
                if let Some(answers) = shared_failure(&err, batch.len()) {
                    return answers;
                }
                // Whatever one row did, the others get their own answer.
                let mut answers = Vec::with_capacity(batch.len());
                for user in &batch {
                    answers.push(upsert(&db, std::slice::from_ref(user)).await);
                }
                answers
            }
        }))
    }

    /// Records the user with whoever else is waiting.
    pub async fn remember(&self, user: &User) -> AppResult<()> {
        self.0.answer(user.clone(), "user writer").await
    }
}

/// A user of the tenant the server knows.
pub async fn find(db: &impl ConnectionTrait, tenant: &str, id: &str) -> AppResult<Option<UserRef>> {
    let row = user::Entity::find_by_id((tenant.to_string(), id.to_string()))
        .one(db)
        .await?;
    Ok(row.map(|u| to_ref(&u)))
}

/// A staff member (agent or admin) of the tenant, for transfers.
pub async fn find_staff(
    db: &impl ConnectionTrait,
    tenant: &str,
    id: &str,
) -> AppResult<Option<UserRef>> {
    Ok(find(db, tenant, id).await?.filter(|r| r.role.is_staff()))
}

fn to_ref(row: &user::Model) -> UserRef {
    UserRef {
        id: row.id.clone(),
        role: Role::parse(&row.role).unwrap_or(Role::Customer),
        name: row.name.clone(),
    }
}

/// Views of session rows of one tenant, naming their users in one query.
pub async fn session_views(
    db: &impl ConnectionTrait,
    rows: &[session::Model],
) -> AppResult<Vec<SessionView>> {
    let Some(tenant) = rows.first().map(|r| r.tenant.clone()) else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<&str> = rows
        .iter()
        .flat_map(|r| {
            [
                Some(r.customer_id.as_str()),
                r.agent_id.as_deref(),
                r.closed_by_id.as_deref(),
            ]
        })
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let known: HashMap<String, UserRef> = user::Entity::find()
        .filter(user::Column::Tenant.eq(tenant))
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .iter()
        .map(|u| (u.id.clone(), to_ref(u)))
        .collect();
    let lookup = |id: &str| {
        known.get(id).cloned().unwrap_or_else(|| UserRef {
            id: id.to_string(),
            role: Role::Customer,
            name: None,
        })
    };
    let mut queues = super::routing::queue::infos(db, rows).await?;
    Ok(rows
        .iter()
        .map(|row| SessionView {
            queue: queues.remove(&row.id),
            ..SessionView::new(row, lookup)
        })
        .collect())
}

pub async fn session_view(
    db: &impl ConnectionTrait,
    row: &session::Model,
) -> AppResult<SessionView> {
    let mut views = session_views(db, std::slice::from_ref(row)).await?;
    Ok(views.remove(0))
}
