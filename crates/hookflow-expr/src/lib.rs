//! Templates and expressions.
