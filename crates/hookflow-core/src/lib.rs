//! Core domain types shared by every other crate: typed ids, timestamps,
//! event and execution statuses, the job state machine and retry-policy math.
//!
//! Invariant: this crate does no IO beyond reading the clock and the OS random
//! source; it knows nothing of HTTP, SQL or tokio.

pub mod depth;
mod event_type;
pub mod id;
pub mod retry;
pub mod secret;
pub mod status;
pub mod time;

pub use event_type::EventType;
pub use id::*;
pub use status::*;
pub use time::Timestamp;
