//! Messages: append with a gap-free `seq` (alone or in a group commit),
//! read back in `seq` order, mark read.

mod append;
pub mod group_commit;
pub mod history;
pub mod read;
mod send;

pub(crate) use append::append_in;
pub use append::{Appended, append_valid};
pub use send::{Sent, send};
