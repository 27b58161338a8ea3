//! hookflow-engine
