//! The schema of Switchboard, as sea-orm migrations run at start-up (and by
//! `switchboard migrate`). The same migrations serve SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_users;
mod m20261123_000002_create_sessions;
mod m20261123_000003_create_messages;
mod m20261130_000004_add_read_indexes;
mod m20261201_000005_routing;
mod m20261202_000006_attachments;
mod m20261203_000007_agent_tools;
mod m20261204_000008_integrations;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_users::Migration),
            Box::new(m20261123_000002_create_sessions::Migration),
            Box::new(m20261123_000003_create_messages::Migration),
            Box::new(m20261130_000004_add_read_indexes::Migration),
            Box::new(m20261201_000005_routing::Migration),
            Box::new(m20261202_000006_attachments::Migration),
            Box::new(m20261203_000007_agent_tools::Migration),
            Box::new(m20261204_000008_integrations::Migration),
        ]
    }
}
