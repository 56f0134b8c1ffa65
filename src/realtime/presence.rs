//! Who is online, per tenant, across every node: asked of the adapter (the
//! local one, or Redis), not kept in this process, so a node that dies
//! takes its users with it. Staff sockets are in `agents:{tenant}`,
//! customers' in `customers:{tenant}`; every socket is in its
//! `user:{tenant}:{id}` room, so the distinct user rooms of those sockets
//! are the distinct users.

use socketioxide::adapter::Adapter;
use socketioxide_core::adapter::Room;

use crate::app::AppState;
use crate::chat::{User, agents_room};

/// Room of a tenant's customers (internal: presence counting only).
pub fn customers_room(tenant: &str) -> String {
    format!("customers:{tenant}")
}

/// The presence room of a user: `agents:` for staff, `customers:` otherwise.
pub fn presence_room(user: &User) -> String {
    if user.role.is_staff() {
        agents_room(&user.tenant)
    } else {
        customers_room(&user.tenant)
    }
}

/// `(onlineAgents, onlineCustomers)` of a tenant, on all nodes.
pub async fn online<A: Adapter>(app: &AppState<A>, tenant: &str) -> (usize, usize) {
    let Some(ns) = app.chat() else { return (0, 0) };
    let mut counts = [0; 2];
    for (i, room) in [agents_room(tenant), customers_room(tenant)]
        .into_iter()
        .enumerate()
    {
        counts[i] = match ns.clone().within(room.clone()).rooms().await {
            Ok(rooms) => distinct_users(&rooms, tenant),
            Err(err) => {
                // Other nodes unreachable: this node's own count is still true.
                tracing::warn!(%tenant, error = %err, "presence from the adapter failed; counting this node only");
                distinct_users(
                    &ns.clone()
                        .local()
                        .within(room)
                        .rooms()
                        .await
                        .unwrap_or_default(),
                    tenant,
                )
            }
        };
    }
    (counts[0], counts[1])
}

fn distinct_users(rooms: &[Room], tenant: &str) -> usize {
    let prefix = format!("user:{tenant}:");
    rooms
        .iter()
        .filter(|room| room.starts_with(&prefix))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_counted_by_their_user_rooms_once_each() {
        let rooms: Vec<Room> = [
            "user:t:a",
            "agents:t",
            "user:t:b",
            "session:x",
            "user:t2:c",
            "user:t:ab",
        ]
        .into_iter()
        .map(|r| Room::from(r.to_string()))
        .collect();
        assert_eq!(distinct_users(&rooms, "t"), 3);
        assert_eq!(distinct_users(&rooms, "t2"), 1);
    }
}
