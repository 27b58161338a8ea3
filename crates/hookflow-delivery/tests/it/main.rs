//! Integration tests of hookflow-delivery, against real peers on 127.0.0.1:
//! an axum receiver for HTTP (`utils::Peer`) and aiosmtpd for SMTP.

mod classify;
mod client;
mod guard;
mod redirects;
mod signing;
mod smtp;
mod utils;
