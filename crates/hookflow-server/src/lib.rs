//! hookflow-server
