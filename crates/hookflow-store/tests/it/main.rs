//! The store contract suite: every test runs on SQLite, and on PostgreSQL
//! when `HOOKFLOW_TEST_POSTGRES_URL` is set (CI always sets it).

mod connectors;
mod contacts;
mod deliveries;
mod events;
mod migrations;
mod queue;
mod secrets;
mod steps;
mod subscriptions;
mod utils;
