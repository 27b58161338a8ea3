//! The engine: what happens to an event between the ingest answering and the
//! last step finishing.
//!
//! It defines the storage roles it needs ([`store`]: one trait per role, [`Store`] for all of
//! them, implemented by `hookflow-store`), what a received request becomes ([`intake::Intake`]),
//! the ingest group-commit batcher ([`ingest::IngestQueue`]), the worker loop that claims jobs
//! ([`worker`]) and the messages subscribers receive ([`messages`]).
//!
//! Invariant: the engine never speaks SQL or HTTP; every durable change goes
//! through a store role.

pub mod actions;
pub mod channels;
pub mod contacts;
pub mod context;
pub mod deliveries;
pub mod document;
pub mod executor;
pub mod ingest;
pub mod intake;
pub mod messages;
pub mod metrics;
pub mod outbound;
pub mod retention;
pub mod run;
pub mod secrets;
pub mod steps;
pub mod store;
pub mod worker;

pub use store::{Store, StoreError};
