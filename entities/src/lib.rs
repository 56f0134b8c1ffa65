//! sea-orm entities of Switchboard.
//!
//! Times are stored as milliseconds since the Unix epoch (`i64`): the same
//! type on SQLite and PostgreSQL, exact to the millisecond the protocol asks
//! for, and cheap to subtract in SQL for the wait and response statistics.

pub mod attachment;
pub mod canned_response;
pub mod message;
pub mod note;
pub mod session;
pub mod user;
