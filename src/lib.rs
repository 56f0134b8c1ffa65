//! Switchboard: a real-time support-chat server that speaks the Socket.IO v4
//! `/chat` protocol of `PROTOCOL.md` and its REST API, over SQLite or
//! PostgreSQL.
//!
//! A tour, from the edge inwards:
//! - [`config`]: flags and environment; [`telemetry`]: logging set-up.
//! - [`startup`]: builds the app, binds, serves, shuts down gracefully.
//! - [`realtime`]: the `/chat` namespace: connect middleware (JWT), one
//!   module per group of events, and [`realtime::events`], the one place
//!   that decides which rooms hear of a change.
//! - [`http`]: the REST API, one module per resource.
//! - [`service`]: the actions both paths share (call the domain, then tell
//!   the rooms), under a per-session lock that keeps broadcasts in `seq`
//!   order.
//! - [`chat`]: the domain (rules, `seq`, stats) over the database; knows no
//!   sockets and no HTTP. [`auth`] turns a JWT into a [`chat::User`].
//! - [`error`]: the error codes and their ack and HTTP forms.

pub mod app;
pub mod auth;
pub mod batch;
pub mod chat;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod metrics;
pub mod realtime;
pub mod service;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
