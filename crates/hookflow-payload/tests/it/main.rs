//! Integration tests of hookflow-payload: the real-payload corpus, then one module per feature,
//! each going through its own `check` helper.

mod attributes;
mod corpus;
mod email;
mod empty;
mod form;
mod fuzz;
mod json;
mod limits;
mod linear;
mod multipart;
mod robustness;
mod text;
mod utils;
mod xml;
