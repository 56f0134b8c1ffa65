//! Who may do what to a session (docs/protocol.md §2 and §4), as pure functions of
//! the user and the session row. Another tenant's session is `not_found`
//! (its existence is not revealed); a session of the same tenant the user
//! may not touch is `forbidden`.

use entities::session;
use sea_orm::{ColumnTrait, Condition};

use super::{Role, User};
use crate::error::{AppError, AppResult};

/// The life of a session: `pending` until an agent takes it, `active`
/// while one holds it, `closed` for good. Stored as its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SessionStatus {
    Pending,
    Active,
    Closed,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Closed => "closed",
        }
    }

    /// The status of a `status` filter or a stored row.
    pub fn parse(name: &str) -> AppResult<Self> {
        match name {
            "pending" => Ok(Self::Pending),
            "active" => Ok(Self::Active),
            "closed" => Ok(Self::Closed),
            _ => Err(AppError::invalid(
                "status must be pending, active or closed",
            )),
        }
    }

    /// The row is in this status.
    pub fn is(self, row: &session::Model) -> bool {
        row.status == self.as_str()
    }
}

/// `stats-update`, `GET /api/chat/stats`: agents and admins only.
pub fn may_see_stats(user: &User) -> bool {
    user.role.is_staff()
}

/// [`may_see_stats`] as a refusal.
pub fn ensure_may_see_stats(user: &User) -> AppResult<()> {
    if may_see_stats(user) {
        Ok(())
    } else {
        Err(AppError::Forbidden("stats are for agents".into()))
    }
}

/// `GET /ws/stats`: admins only.
pub fn ensure_admin(user: &User, what: &str) -> AppResult<()> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("{what} are for admins")))
    }
}

/// The session is visible to the user at all: same tenant, and for a
/// customer, their own.
pub fn ensure_visible(user: &User, row: &session::Model) -> AppResult<()> {
    if row.tenant != user.tenant {
        return Err(AppError::session_not_found());
    }
    if user.role == Role::Customer && row.customer_id != user.id {
        return Err(AppError::Forbidden(
            "this session belongs to another customer".into(),
        ));
    }
    Ok(())
}

/// Send, mark read and close: the customer, the assigned agent, admins.
pub fn ensure_participant(user: &User, row: &session::Model) -> AppResult<()> {
    ensure_visible(user, row)?;
    let allowed = match user.role {
        Role::Customer => true,
        Role::Admin | Role::Bot => true,
        Role::Agent => row.agent_id.as_deref() == Some(user.id.as_str()),
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only the assigned agent may do this".into(),
        ))
    }
}

/// [`ensure_participant`] as a condition on `sessions` rows, for the
/// UPDATE of the group commit: same tenant, and the session's customer, its
/// assigned agent or any admin.
pub fn participant_condition(user: &User) -> Condition {
    let tenant = Condition::all().add(session::Column::Tenant.eq(&user.tenant));
    match user.role {
        Role::Customer => tenant.add(session::Column::CustomerId.eq(&user.id)),
        Role::Agent => tenant.add(session::Column::AgentId.eq(&user.id)),
        Role::Admin | Role::Bot => tenant,
    }
}

pub fn ensure_open(row: &session::Model) -> AppResult<()> {
    if SessionStatus::Closed.is(row) {
        Err(AppError::SessionClosed)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, role: Role, tenant: &str) -> User {
        User::test(tenant, id, role)
    }

    fn session(customer: &str, agent: Option<&str>) -> session::Model {
        session::Model {
            id: "s1".into(),
            tenant: "acme".into(),
            status: SessionStatus::Active.as_str().into(),
            subject: None,
            customer_id: customer.into(),
            agent_id: agent.map(Into::into),
            created_at: 0,
            assigned_at: None,
            closed_at: None,
            closed_by_id: None,
            close_reason: None,
            last_message_at: None,
            last_seq: 0,
            unread_count: 0,
            first_customer_message_at: None,
            first_response_at: None,
            queued_at: None,
            requeued_from: None,
            rating_score: None,
            rating_comment: None,
            rated_at: None,
        }
    }

    #[test]
    fn another_tenants_session_is_not_found_even_for_admins() {
        let err =
            ensure_visible(&user("x", Role::Admin, "other"), &session("c", None)).unwrap_err();
        assert!(matches!(err, AppError::NotFound(_)));
    }

    #[test]
    fn customer_cannot_touch_another_customers_session() {
        let err = ensure_participant(&user("c2", Role::Customer, "acme"), &session("c1", None))
            .unwrap_err();
        assert!(matches!(err, AppError::Forbidden(_)));
    }

    #[test]
    fn only_the_assigned_agent_and_admins_take_part() {
        let row = session("c", Some("a1"));
        assert!(ensure_participant(&user("a1", Role::Agent, "acme"), &row).is_ok());
        assert!(ensure_participant(&user("adm", Role::Admin, "acme"), &row).is_ok());
        assert!(matches!(
            ensure_participant(&user("a2", Role::Agent, "acme"), &row),
            Err(AppError::Forbidden(_))
        ));
        assert!(ensure_visible(&user("a2", Role::Agent, "acme"), &row).is_ok());
    }
}
