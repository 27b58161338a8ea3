//! End-to-end tests of the product as a user meets it: real HTTP on
//! 127.0.0.1, a real database (SQLite always, PostgreSQL when
//! `HOOKFLOW_TEST_POSTGRES_URL` is set), and the `hookflow` binary itself
//! where a process must die.

mod actions;
mod api;
mod cluster;
mod connections;
mod contacts;
mod corpus;
mod db_restart;
mod engine;
mod ingest;
mod isolation;
mod limits;
mod openapi;
mod ops;
mod peer;
mod process;
mod spawn;
mod steps;
mod subscriptions;
mod utils;
