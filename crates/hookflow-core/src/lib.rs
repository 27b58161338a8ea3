//! Core domain types: ids, statuses, job and retry-policy math. No IO.
