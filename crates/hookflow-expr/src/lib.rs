//! Templates and expressions: everything a connector evaluates over an event.
//!
//! Three parts, all pure (no IO, no async, no global state):
//!
//! - [`Templates`]: Jinja templates (minijinja) over a JSON context with the
//!   roots `event`, `steps`, `contact`, `system`, `item`, `index`. A template
//!   is compiled once ([`Templates::compile`]) and rendered for many events.
//!   A template that is exactly one `{{ expression }}` keeps the
//!   expression's type (number, bool, array, object, null); any other
//!   renders to a string.
//! - Conditions of `filter` and `paths` steps: [`compile_condition`] checks
//!   a `{left, op, right}` / `{match, conditions}` tree once, [`evaluate`]
//!   runs it.
//! - [`eval_math`]: arithmetic for the `math` formatter, on the text a
//!   template rendered to.
//!
//! User mistakes are diagnostics, not `Err`: a render reports missing
//! attributes and runtime errors next to its value ([`Rendered`]), a
//! condition that can't compare its values is false with a reason
//! ([`Outcome`]). Only compiling (at config save) returns errors, with a
//! line and column or a path to point at.
//!
//! Missing attributes: the context is handed to minijinja as objects that
//! record every lookup that fails (`event.body.customer` when the body has
//! no customer). Failed paths are then matched with the attribute chains the
//! template names, so `{{ event.body.customer.phone }}` reports
//! `event.body.customer.phone`. Lookups handled by `default` or `is defined`
//! are reported too.

mod condition;
mod filters;
mod limits;
mod math;
mod scan;
mod template;
mod text;
mod track;

pub use condition::{
    compile_condition, compile_node, evaluate, evaluate_shared, CompiledNode, Condition, ConditionError,
    ConditionResult, Group, Match, Node, Op, Outcome, UnknownOp,
};
pub use limits::{on_long_render, LONG_RENDER};
pub use limits::{
    MAX_DEPTH as TEMPLATE_MAX_DEPTH, MAX_ITEMS as TEMPLATE_MAX_ITEMS, MAX_MEMORY as TEMPLATE_MAX_MEMORY,
    MAX_OUTPUT as TEMPLATE_MAX_OUTPUT, MAX_STRING as TEMPLATE_MAX_STRING,
};
pub use math::{eval_math, MathError};
pub use template::{Rendered, Template, TemplateError, Templates};
pub use text::{build_regex, slugify};
