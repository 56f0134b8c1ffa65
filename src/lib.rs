//! Switchboard: a real-time support-chat server that speaks the Socket.IO v4
//! `/chat` protocol of `docs/protocol.md` and its REST API, over SQLite or
//! PostgreSQL.
//!
//! A tour, from the edge inwards:
//! - [`config`]: flags and environment; [`telemetry`]: logging set-up.
//! - [`startup`]: builds the app, binds, serves, shuts down gracefully.
//! - [`app`]: the state every handler shares, built once (the composition
//!   root).
//! - [`realtime`]: the `/chat` namespace: connect middleware (JWT) and one
//!   module per group of client events. [`http`]: the REST API, one module
//!   per resource. Both only translate in and out.
//! - [`actions`]: what both paths do for a change: run the domain action
//!   under the session's lock, then hand what changed to the fan-out.
//! - [`fanout`]: the one place that turns what changed into socket events
//!   to rooms and stats updates (docs/protocol.md §5), through a narrow
//!   emitter handle.
//! - [`chat`]: the domain (rules, `seq`, stats) over the database; knows no
//!   sockets and no HTTP, and returns what changed. [`auth`] turns a JWT
//!   into a [`chat::User`]. [`storage`]: the object store attachments
//!   live in (local disk or S3).
//! - [`error`]: the error codes and their ack and HTTP forms; [`batch`]:
//!   the queue behind group commits.
//!
//! Dependencies go one way: `startup` -> `http`, `realtime` -> `app` ->
//! `actions` -> `fanout` -> `chat` -> `entities` (`../shared/tools/layers`
//! checks it).

pub mod actions;
pub mod app;
pub mod auth;
pub mod batch;
pub mod chat;
pub mod config;
pub mod db;
pub mod error;
pub mod fanout;
pub mod http;
pub mod metrics;
pub mod realtime;
pub mod redis_driver;
#[cfg(test)]
mod scratch;
pub mod shutdown;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod webhooks;
