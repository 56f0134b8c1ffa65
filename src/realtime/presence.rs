//! Who is connected to this node, per tenant: the `onlineAgents` and
//! `onlineCustomers` of the stats count distinct users, not sockets.
//! A `std::sync::Mutex`: no `.await` while held, tiny critical sections.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::chat::User;

#[derive(Default)]
struct Tenant {
    /// Sockets per user id, staff and customers apart.
    staff: HashMap<String, usize>,
    customers: HashMap<String, usize>,
}

#[derive(Default)]
pub struct Presence {
    tenants: Mutex<HashMap<String, Tenant>>,
}

impl Presence {
    pub fn connected(&self, user: &User) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let tenant = tenants.entry(user.tenant.clone()).or_default();
        let users = if user.role.is_staff() {
            &mut tenant.staff
        } else {
            &mut tenant.customers
        };
        *users.entry(user.id.clone()).or_default() += 1;
    }

    pub fn disconnected(&self, user: &User) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tenant) = tenants.get_mut(&user.tenant) else {
            return;
        };
        let users = if user.role.is_staff() {
            &mut tenant.staff
        } else {
            &mut tenant.customers
        };
        if let Some(count) = users.get_mut(&user.id) {
            *count -= 1;
            if *count == 0 {
                users.remove(&user.id);
            }
        }
        if tenant.staff.is_empty() && tenant.customers.is_empty() {
            tenants.remove(&user.tenant);
        }
    }

    /// `(onlineAgents, onlineCustomers)` of a tenant.
    pub fn counts(&self, tenant: &str) -> (usize, usize) {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants
            .get(tenant)
            .map(|t| (t.staff.len(), t.customers.len()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Role;

    fn user(id: &str, role: Role) -> User {
        User {
            id: id.into(),
            tenant: "t".into(),
            role,
            name: None,
            email: None,
        }
    }

    #[test]
    fn users_with_several_tabs_count_once() {
        let presence = Presence::default();
        presence.connected(&user("a", Role::Agent));
        presence.connected(&user("a", Role::Agent));
        presence.connected(&user("adm", Role::Admin));
        presence.connected(&user("c", Role::Customer));
        assert_eq!(presence.counts("t"), (2, 1));
        presence.disconnected(&user("a", Role::Agent));
        assert_eq!(presence.counts("t"), (2, 1));
        presence.disconnected(&user("a", Role::Agent));
        assert_eq!(presence.counts("t"), (1, 1));
        assert_eq!(presence.counts("other"), (0, 0));
    }
}
