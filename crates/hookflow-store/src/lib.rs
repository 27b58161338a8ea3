//! hookflow-store
