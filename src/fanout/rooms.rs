//! The names of the Socket.IO rooms (docs/protocol.md §2), built so that
//! no two different tenants, users or sessions ever share one, whatever
//! characters their ids hold: a room with a single variable part has it
//! last after a fixed prefix, and the user room, with two, says how long
//! the tenant is (`user:1:a:b:c` is tenant `a`'s user `b:c`, and
//! `user:3:a:b:c` tenant `a:b`'s user `c`).

use crate::chat::User;

/// Every socket of one user (all their tabs, on every node).
pub fn user(tenant: &str, id: &str) -> String {
    format!("{}{id}", user_prefix(tenant))
}

/// The start of every user room of `tenant`, and of no other tenant's.
pub fn user_prefix(tenant: &str) -> String {
    format!("user:{}:{tenant}:", tenant.len())
}

/// Every socket of the tenant (docs/protocol.md §2, v1.3).
pub fn tenant(tenant: &str) -> String {
    format!("tenant:{tenant}")
}

/// The tenant's agents and admins.
pub fn agents(tenant: &str) -> String {
    format!("agents:{tenant}")
}

/// The tenant's admins (webhook deliveries, docs/protocol.md §10).
pub fn admins(tenant: &str) -> String {
    format!("admins:{tenant}")
}

/// The tenant's customers (presence counting only).
pub fn customers(tenant: &str) -> String {
    format!("customers:{tenant}")
}

/// A session's participants and watchers.
pub fn session(id: &str) -> String {
    format!("session:{id}")
}

/// The staff sockets that joined a session: private notes go there
/// (docs/protocol.md §11); customer sockets never join it.
pub fn session_staff(id: &str) -> String {
    format!("session-staff:{id}")
}

/// A session's room (of [`session`]).
pub fn is_session(room: &str) -> bool {
    room.starts_with("session:")
}

/// The presence room of a user: `agents:` for staff, `customers:` otherwise.
pub fn presence(user: &User) -> String {
    if user.role.is_staff() {
        agents(&user.tenant)
    } else {
        customers(&user.tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_rooms_of_tenants_with_colons_do_not_collide() {
        assert_ne!(user("a:b", "c"), user("a", "b:c"));
        assert!(!user("a", "b:c").starts_with(&user_prefix("a:b")));
        assert!(!user("a:b", "c").starts_with(&user_prefix("a")));
        assert!(user("a:b", "c").starts_with(&user_prefix("a:b")));
    }

    #[test]
    fn rooms_of_different_kinds_never_meet() {
        let names = [
            user("t", "x"),
            agents("t"),
            admins("t"),
            customers("t"),
            session("t"),
            session_staff("t"),
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
