//! Understanding inbound payloads.
