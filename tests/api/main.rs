//! Integration tests of the REST API and the server's life cycle, against
//! the real server spawned in-process on port 0 with a fresh database.
//! The Socket.IO protocol is tested through real clients in `tests/js`.

#![allow(clippy::unwrap_used)]

mod bodies;
mod cli;
mod helpers;
mod lifecycle;
mod messages;
mod openapi;
mod query_plans;
mod security;
mod sessions;
