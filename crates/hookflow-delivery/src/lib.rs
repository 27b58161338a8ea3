//! Every outbound connection hookflow makes: HTTP requests of actions and
//! subscription deliveries, and emails. Nothing else in hookflow opens a
//! socket to a peer.
//!
//! - [`Guard`] (SPEC section 8) refuses loopback, private, link-local,
//!   unique-local and other special addresses unless the operator allowed
//!   their network (`HOOKFLOW_ALLOW_NETWORKS`, [`Guard::parse`]). It is
//!   applied after resolution, to the addresses actually connected to, on
//!   every redirect hop and for SMTP too, so DNS rebinding and redirects
//!   cannot reach a refused address.
//! - [`Client::send`] sends one [`Request`] (rustls only, no proxy from the
//!   environment), follows redirects itself when asked, keeps one deadline
//!   for everything, reads at most [`MAX_RESPONSE_BODY`] and measures the
//!   latency. Any status is a [`Response`]; [`SendError`] means no answer
//!   and says why ([`ErrorKind`]) in a sentence fit to store.
//! - [`classify_action`], [`classify_delivery`] and [`classify_email`] turn
//!   a result into an [`Outcome`]: `Success`, `Retry { reason, .. }` or
//!   `GiveUp { reason, .. }`, the reason being what the attempt log shows.
//!   [`retry_after`] reads a peer's `Retry-After`.
//! - [`check_url`] and [`check_header`] say what a configured request may carry: an absolute
//!   http(s) URL with a host, and headers without line breaks that are neither hop-by-hop nor
//!   the connection's own (`Host`, `Content-Length`, `Transfer-Encoding`).
//! - [`signing`] makes and checks Standard Webhooks signatures (SPEC section 7).
//! - [`smtp`] sends an [`Email`] with [`Client::send_email`] through lettre.
//!
//! No retry loop lives here: one call is one attempt, and the caller (the
//! engine's worker) schedules the next from the outcome.

mod check;
mod classify;
mod client;
mod error;
mod guard;
pub mod signing;
pub mod smtp;

pub use check::{check_header, check_header_name, check_header_value, check_url};
pub use classify::{classify_action, classify_delivery, classify_email, retry_after, Outcome};
pub use client::{Client, Request, Response, MAX_REDIRECTS, MAX_RESPONSE_BODY};
pub use error::{ErrorKind, SendError};
pub use guard::{Category, Guard, Refused, ALLOW_SETTING};
pub use ipnet::IpNet;
pub use smtp::{Email, Security, SmtpSettings};
