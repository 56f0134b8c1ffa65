//! Who is connected to this node, counted as sockets come and go: per
//! tenant, each staff and customer user with their number of sockets here.
//! `onlineAgents` and `onlineCustomers` of a single node are then read in
//! constant time; scanning the rooms of every socket instead cost each
//! staff connect time in proportion to everyone connected (issue 18: 5,000
//! sessions could not be set up).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::chat::User;

#[derive(Default)]
struct Tenant {
    /// Staff (agents and admins): user id → sockets here.
    staff: HashMap<String, usize>,
    /// Customers: user id → sockets here.
    customers: HashMap<String, usize>,
}

impl Tenant {
    fn side(&mut self, user: &User) -> &mut HashMap<String, usize> {
        if user.role.is_staff() {
            &mut self.staff
        } else {
            &mut self.customers
        }
    }
}

/// This node's connected users; see the module documentation.
#[derive(Default)]
pub struct Presence {
    tenants: Mutex<HashMap<String, Tenant>>,
}

impl Presence {
    /// A socket of `user` joined its rooms here.
    pub fn joined(&self, user: &User) {
        let mut tenants = self.lock();
        let tenant = tenants.entry(user.tenant.clone()).or_default();
        *tenant.side(user).entry(user.id.clone()).or_default() += 1;
    }

    /// A socket of `user` left this node (once per [`Self::joined`]).
    pub fn left(&self, user: &User) {
        let mut tenants = self.lock();
        let Some(tenant) = tenants.get_mut(&user.tenant) else {
            return;
        };
        let side = tenant.side(user);
        if let Some(sockets) = side.get_mut(&user.id) {
            *sockets = sockets.saturating_sub(1);
            if *sockets == 0 {
                side.remove(&user.id);
            }
        }
        if tenant.staff.is_empty() && tenant.customers.is_empty() {
            tenants.remove(&user.tenant);
        }
    }

    /// `(staff, customers)` of `tenant` connected here: distinct users.
    pub fn counts(&self, tenant: &str) -> (usize, usize) {
        self.lock()
            .get(tenant)
            .map_or((0, 0), |t| (t.staff.len(), t.customers.len()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tenant>> {
        // The map is consistent after every statement: a panic elsewhere
        // while it was held leaves nothing half done.
        self.tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Role;

    fn user(tenant: &str, id: &str, role: Role) -> User {
        User::test(tenant, id, role)
    }

    #[test]
    fn counts_distinct_users_per_tenant_and_side_until_their_last_socket_leaves() {
        let presence = Presence::default();
        let agent = user("t", "a", Role::Agent);
        let admin = user("t", "b", Role::Admin);
        let customer = user("t", "a", Role::Customer);
        let other = user("t2", "c", Role::Customer);
        presence.joined(&agent);
        presence.joined(&agent);
        presence.joined(&admin);
        presence.joined(&customer);
        presence.joined(&other);
        assert_eq!(presence.counts("t"), (2, 1));
        assert_eq!(presence.counts("t2"), (0, 1));
        presence.left(&agent);
        assert_eq!(presence.counts("t"), (2, 1));
        presence.left(&agent);
        presence.left(&customer);
        assert_eq!(presence.counts("t"), (1, 0));
        presence.left(&admin);
        presence.left(&admin);
        assert_eq!(presence.counts("t"), (0, 0));
        assert!(!presence.lock().contains_key("t"));
    }
}
