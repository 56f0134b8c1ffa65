//! Routing (docs/protocol.md §8): agents' availability, capacity and
//! presence, the tenant's settings, the queue, auto-assignment and
//! transfer. Like the rest of the domain it returns what changed and knows
//! no sockets; `crate::actions::router` decides when to run it.

pub mod agents;
pub mod assign;
pub mod hours;
pub mod log;
pub mod queue;
pub mod service;
pub mod settings;
pub mod sql;
pub mod transfer;

pub use agents::{AgentState, Availability, Node};
pub use queue::QueueInfo;
pub use settings::{Defaults, RoutingMode, TenantSettings};

/// What routing needs of the server's configuration.
#[derive(Clone, Debug)]
pub struct RoutingConfig {
    pub defaults: Defaults,
    /// A session sent back to the queue is not auto-assigned to the agent
    /// who sent it for this long.
    pub requeue_hold_ms: i64,
}
