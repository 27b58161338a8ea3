//! The engine: what happens to an event between the ingest answering and the
//! last step finishing.
//!
//! It defines the [`Store`] trait it needs (implemented by `hookflow-store`),
//! what a received request becomes ([`intake::Intake`]), the ingest group-commit
//! batcher ([`ingest::IngestQueue`]) and the worker loop that claims jobs ([`worker`]).
//!
//! Invariant: the engine never speaks SQL or HTTP; every durable change goes
//! through [`Store`].

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
