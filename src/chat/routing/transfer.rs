//! Transfer (docs/protocol.md §8): the assigned agent or an admin hands an
//! active session to another staff member, or back to the queue.

use sea_orm::{DatabaseConnection, TransactionTrait};

use super::log;
use super::sql;
use crate::chat::access::SessionStatus;
use crate::chat::changes::{self, Change};
use crate::chat::clock::now_ms;
use crate::chat::input::TransferRequest;
use crate::chat::{Changed, Role, SessionView, User, sessions, users};
use crate::error::{AppError, AppResult};

pub async fn transfer(
    db: &DatabaseConnection,
    user: &User,
    req: &TransferRequest,
) -> AppResult<Changed<SessionView>> {
    let row = sessions::find(db, user, &req.session_id).await?;
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "only agents and admins transfer sessions".into(),
        ));
    }
    if SessionStatus::Closed.is(&row) {
        return Err(AppError::SessionClosed);
    }
    if SessionStatus::Pending.is(&row) {
        return Err(AppError::invalid(
            "the session is pending: assign it with POST /api/chat/sessions/{id}/assign",
        ));
    }
    let current = row.agent_id.clone().unwrap_or_default();
    if user.role != Role::Admin && current != user.id {
        return Err(AppError::Forbidden(
            "only the assigned agent or an admin transfers a session".into(),
        ));
    }
    let tenant = user.tenant.as_str();
    let target = match &req.to_agent_id {
        Some(to) => {
            users::find_staff(db, tenant, to)
                .await?
                .ok_or_else(|| AppError::NotFound("no agent with that id".into()))?;
            if *to == current {
                return Err(AppError::invalid("the session is already with that agent"));
            }
            Some(to.as_str())
        }
        None => None,
    };
    let now = now_ms();
    let txn = db.begin().await?;
    let moved = match target {
        Some(to) => {
            log::lock_agent(&txn, tenant, to, now).await?;
            sql::execute(
                &txn,
                "UPDATE sessions SET agent_id = $3 \
                 WHERE tenant = $1 AND id = $2 AND status = 'active' AND agent_id = $4",
                vec![
                    tenant.into(),
                    row.id.clone().into(),
                    to.into(),
                    current.clone().into(),
                ],
            )
            .await?
        }
        None => {
            sql::execute(
                &txn,
                "UPDATE sessions SET status = 'pending', agent_id = NULL, queued_at = $3, \
                 requeued_from = $4 \
                 WHERE tenant = $1 AND id = $2 AND status = 'active' AND agent_id = $4",
                vec![
                    tenant.into(),
                    row.id.clone().into(),
                    now.into(),
                    current.clone().into(),
                ],
            )
            .await?
        }
    };
    if moved == 0 {
        txn.rollback().await?;
        return Err(AppError::Conflict(
            "the session changed meanwhile, try again".into(),
        ));
    }
    let view = users::session_view(&txn, &sessions::reload(&txn, &row.id).await?).await?;
    let previous = Some(current);
    let change = match target {
        Some(_) => Change::SessionAssigned {
            session: view.clone(),
            previous,
        },
        None => Change::SessionRequeued {
            session: view.clone(),
            previous,
        },
    };
    let changed = vec![change];
    changes::commit(txn, tenant, &changed).await?;
    tracing::info!(%tenant, session = %row.id, by = %user.id, to = ?target,
                   reason = ?req.reason, "session transferred");
    Ok(Changed::new(tenant, view, changed))
}
