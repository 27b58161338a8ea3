//! hookflow-test-support
