//! Conditions of `filter` and `paths` steps (SPEC section 10).
//!
//! A condition is `{"left": .., "op": "..", "right": ..}`, a group is
//! `{"match": "all" | "any", "conditions": [..]}`, and groups nest. `left`
//! and `right` are JSON values; strings holding template syntax are rendered
//! with type preservation, so `"{{ event.body.total }}"` gives a number.
//!
//! [`compile_condition`] checks a node once (operators, templates, regexes)
//! and [`evaluate`] runs it for each event. A comparison that can't be made
//! (a number operator on text) is false, with the reason in the outcome.
//!
//! Semantics:
//! - Text operators compare text: strings as they are, null as empty, other
//!   values as compact JSON; two numbers compare as numbers (`1` equals `1.0`).
//! - `contains`: an array holds an element equal to right, an object a key,
//!   anything else the substring. Substring operators (`contains`,
//!   `starts_with`, `ends_with`) with an empty right can't compare.
//! - `matches` searches (use `^...$` to anchor). `in` takes a list or a
//!   comma-separated string; an array left passes when any element is in it.
//! - Number operators take numbers and numeric strings; integers compare
//!   exactly, even beyond 2^53.
//! - Dates without an offset are UTC. Unix times of 10^11 and above are milliseconds.
//! - Every condition is evaluated (no short-circuit), so the detail is complete.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use crate::template::{Template, Templates};

mod compare;

use compare::{compare, text};

/// A condition or a group of them, as written in a connector document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Node {
    Group(Group),
    Condition(Condition),
}

/// `{"match": "all" | "any", "conditions": [..]}`; `match` defaults to `all`.
///
/// Other keys are ignored, so a whole filter step (`id`, `type`, ...) reads as a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    #[serde(rename = "match", default)]
    pub match_: Match,
    pub conditions: Vec<Node>,
}

/// How a group joins its conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// Every condition passes (an empty group passes).
    #[default]
    All,
    /// At least one condition passes (an empty group fails).
    Any,
}

/// `{"left": .., "op": "..", "right": ..}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub left: Json,
    pub op: Op,
    /// Required unless [`Op::needs_right`] is false. `"right": null` is a null value, not absent.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub right: Option<Json>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(d).map(Some)
}

impl<'de> Deserialize<'de> for Node {
    /// An object with `conditions` or `match` is a group, anything else a condition.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = Json::deserialize(d)?;
        if is_group(&value) {
            Group::deserialize(value).map(Node::Group).map_err(D::Error::custom)
        } else {
            Condition::deserialize(value)
                .map(Node::Condition)
                .map_err(D::Error::custom)
        }
    }
}

fn is_group(value: &Json) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.contains_key("conditions") || m.contains_key("match"))
}

macro_rules! ops {
    ($($variant:ident = $name:literal, $kind:ident;)*) => {
        /// A condition operator. The names are part of the connector document contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Op {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl Op {
            /// Every operator, in the order of the documentation.
            pub const ALL: &'static [Op] = &[$(Op::$variant,)*];

            /// The operator's name in the connector document.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Op::$variant => $name,)*
                }
            }

            fn kind(self) -> Kind {
                match self {
                    $(Op::$variant => Kind::$kind,)*
                }
            }
        }
    };
}

ops! {
    Equals = "equals", Text;
    NotEquals = "not_equals", Text;
    Contains = "contains", Text;
    NotContains = "not_contains", Text;
    StartsWith = "starts_with", Text;
    EndsWith = "ends_with", Text;
    Matches = "matches", Text;
    In = "in", Text;
    EqualsCi = "equals_ci", Text;
    NotEqualsCi = "not_equals_ci", Text;
    ContainsCi = "contains_ci", Text;
    NotContainsCi = "not_contains_ci", Text;
    StartsWithCi = "starts_with_ci", Text;
    EndsWithCi = "ends_with_ci", Text;
    MatchesCi = "matches_ci", Text;
    InCi = "in_ci", Text;
    Eq = "eq", Number;
    Ne = "ne", Number;
    Lt = "lt", Number;
    Le = "le", Number;
    Gt = "gt", Number;
    Ge = "ge", Number;
    Before = "before", Date;
    After = "after", Date;
    IsTrue = "is_true", Unary;
    IsFalse = "is_false", Unary;
    Exists = "exists", Unary;
    NotExists = "not_exists", Unary;
    IsEmpty = "is_empty", Unary;
    NotEmpty = "not_empty", Unary;
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Number,
    Date,
    Unary,
}

impl Op {
    /// Whether the operator compares `left` with a `right` value.
    pub fn needs_right(self) -> bool {
        self.kind() != Kind::Unary
    }

    /// Whether the operator compares text case-insensitively (the `_ci` variants).
    pub fn is_case_insensitive(self) -> bool {
        self.as_str().ends_with("_ci")
    }

    /// The case-sensitive operator of a `_ci` variant; other operators unchanged.
    fn base(self) -> Op {
        match self {
            Op::EqualsCi => Op::Equals,
            Op::NotEqualsCi => Op::NotEquals,
            Op::ContainsCi => Op::Contains,
            Op::NotContainsCi => Op::NotContains,
            Op::StartsWithCi => Op::StartsWith,
            Op::EndsWithCi => Op::EndsWith,
            Op::MatchesCi => Op::Matches,
            Op::InCi => Op::In,
            other => other,
        }
    }

    fn valid_list() -> String {
        Op::ALL.iter().map(|op| op.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown operator name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operator `{0}`; valid operators: {list}", list = Op::valid_list())]
pub struct UnknownOp(pub String);

impl FromStr for Op {
    type Err = UnknownOp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Op::ALL
            .iter()
            .copied()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| UnknownOp(s.to_string()))
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A mistake in a condition, found when compiling it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConditionError {
    /// Where, relative to the node compiled: `conditions[1].conditions[0].right`;
    /// empty for the node itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A checked condition tree: templates and regexes compiled, ready to evaluate
/// many times. Cheap to clone, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct CompiledNode {
    root: Arc<Compiled>,
}

#[derive(Debug)]
enum Compiled {
    Group { any: bool, children: Vec<Compiled> },
    Leaf(Box<Leaf>),
}

#[derive(Debug)]
struct Leaf {
    path: String,
    op: Op,
    left: Operand,
    right: Option<Operand>,
    /// The regex of `matches`/`matches_ci` when `right` holds no template.
    regex: Option<Regex>,
}

#[derive(Debug)]
enum Operand {
    Literal(Json),
    Template { path: String, template: Template },
    Array(Vec<Operand>),
    Object(Vec<(String, Operand)>),
}

/// The result of evaluating a condition tree on one context.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Outcome {
    pub passed: bool,
    /// Every condition, in document order, as evaluated.
    pub detail: Vec<ConditionResult>,
    /// Attributes the templates looked up and did not find.
    pub missing: Vec<String>,
    /// Template runtime errors, each prefixed with the path of its value.
    pub errors: Vec<String>,
}

/// One condition as evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionResult {
    /// Where the condition is in the node (`conditions[0]`; empty for a lone condition).
    pub path: String,
    /// `left` as rendered.
    pub left: Json,
    pub op: Op,
    /// `right` as rendered; absent for operators without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right: Option<Json>,
    pub passed: bool,
    /// Why the values could not be compared, e.g. `left is not a number: "abc"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Checks and compiles a condition or group given as JSON, reporting every mistake.
pub fn compile_condition(templates: &Templates, node: &Json) -> Result<CompiledNode, Vec<ConditionError>> {
    let mut errors = Vec::new();
    let compiled = compile_node_at(templates, node, String::new(), &mut errors);
    match compiled {
        Some(root) if errors.is_empty() => Ok(CompiledNode { root: Arc::new(root) }),
        _ => Err(errors),
    }
}

/// Compiles a typed [`Node`]; the same checks as [`compile_condition`].
pub fn compile_node(templates: &Templates, node: &Node) -> Result<CompiledNode, Vec<ConditionError>> {
    match serde_json::to_value(node) {
        Ok(json) => compile_condition(templates, &json),
        Err(e) => Err(vec![ConditionError {
            path: String::new(),
            message: e.to_string(),
        }]),
    }
}

/// Evaluates a compiled condition tree. Never fails: problems are in the outcome.
pub fn evaluate(templates: &Templates, compiled: &CompiledNode, ctx: &Json) -> Outcome {
    evaluate_shared(templates, compiled, &Arc::new(ctx.clone()))
}

/// Like [`evaluate`], for a context already behind an `Arc`.
pub fn evaluate_shared(templates: &Templates, compiled: &CompiledNode, ctx: &Arc<Json>) -> Outcome {
    let mut outcome = Outcome::default();
    outcome.passed = eval_node(templates, &compiled.root, ctx, &mut outcome);
    outcome
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else if field.starts_with('[') {
        format!("{path}{field}")
    } else {
        format!("{path}.{field}")
    }
}

fn error(errors: &mut Vec<ConditionError>, path: String, message: impl Into<String>) {
    errors.push(ConditionError {
        path,
        message: message.into(),
    });
}

fn compile_node_at(
    templates: &Templates,
    node: &Json,
    path: String,
    errors: &mut Vec<ConditionError>,
) -> Option<Compiled> {
    let Some(map) = node.as_object() else {
        error(
            errors,
            path,
            "expected a condition {\"left\", \"op\", \"right\"} or a group {\"match\", \"conditions\"}",
        );
        return None;
    };
    if is_group(node) {
        let any = match map.get("match") {
            None => false,
            Some(Json::String(s)) if s == "all" => false,
            Some(Json::String(s)) if s == "any" => true,
            Some(_) => {
                error(errors, join(&path, "match"), "must be \"all\" or \"any\"");
                false
            }
        };
        let children = match map.get("conditions") {
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    compile_node_at(templates, item, join(&path, &format!("conditions[{i}]")), errors)
                })
                .collect(),
            Some(_) => {
                error(errors, join(&path, "conditions"), "must be a list of conditions");
                Vec::new()
            }
            None => {
                error(errors, join(&path, "conditions"), "missing");
                Vec::new()
            }
        };
        return Some(Compiled::Group { any, children });
    }

    let before = errors.len();
    for key in map.keys().filter(|k| !["left", "op", "right"].contains(&k.as_str())) {
        error(
            errors,
            join(&path, key),
            "unknown field; a condition has \"left\", \"op\" and \"right\"",
        );
    }
    let op = match map.get("op") {
        Some(Json::String(name)) => match name.parse::<Op>() {
            Ok(op) => Some(op),
            Err(e) => {
                error(errors, join(&path, "op"), e.to_string());
                None
            }
        },
        Some(_) => {
            error(
                errors,
                join(&path, "op"),
                format!("must be an operator name; valid operators: {}", Op::valid_list()),
            );
            None
        }
        None => {
            error(
                errors,
                join(&path, "op"),
                format!("missing; valid operators: {}", Op::valid_list()),
            );
            None
        }
    };
    let left = match map.get("left") {
        Some(value) => compile_operand(templates, value, join(&path, "left"), errors),
        None => {
            error(errors, join(&path, "left"), "missing");
            None
        }
    };
    let right = match (op, map.get("right")) {
        (Some(op), Some(value)) if op.needs_right() => compile_operand(templates, value, join(&path, "right"), errors),
        (Some(op), None) if op.needs_right() => {
            error(
                errors,
                join(&path, "right"),
                format!("missing; `{op}` compares left with a right value"),
            );
            None
        }
        _ => None,
    };
    let mut regex = None;
    if let (Some(op), Some(Operand::Literal(pattern))) = (op, &right) {
        if op.base() == Op::Matches {
            match crate::text::build_regex(&text(pattern), op.is_case_insensitive()) {
                Ok(r) => regex = Some(r),
                Err(e) => error(errors, join(&path, "right"), format!("invalid regular expression: {e}")),
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(Compiled::Leaf(Box::new(Leaf {
        path,
        op: op?,
        left: left?,
        right,
        regex,
    })))
}

fn compile_operand(
    templates: &Templates,
    value: &Json,
    path: String,
    errors: &mut Vec<ConditionError>,
) -> Option<Operand> {
    match value {
        Json::String(source) => match templates.compile(source) {
            Ok(template) if template.is_plain() => Some(Operand::Literal(value.clone())),
            Ok(template) => Some(Operand::Template { path, template }),
            Err(e) => {
                error(errors, path, e.to_string());
                None
            }
        },
        Json::Array(items) => {
            let parts: Vec<Option<Operand>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| compile_operand(templates, item, join(&path, &format!("[{i}]")), errors))
                .collect();
            let parts: Vec<Operand> = parts.into_iter().collect::<Option<_>>()?;
            if parts.iter().all(|p| matches!(p, Operand::Literal(_))) {
                Some(Operand::Literal(value.clone()))
            } else {
                Some(Operand::Array(parts))
            }
        }
        Json::Object(map) => {
            let parts: Vec<(String, Option<Operand>)> = map
                .iter()
                .map(|(k, item)| {
                    let field = if crate::track::is_identifier(k) {
                        k.clone()
                    } else {
                        format!("[{}]", Json::String(k.clone()))
                    };
                    (k.clone(), compile_operand(templates, item, join(&path, &field), errors))
                })
                .collect();
            let parts: Vec<(String, Operand)> = parts
                .into_iter()
                .map(|(k, p)| p.map(|p| (k, p)))
                .collect::<Option<_>>()?;
            if parts.iter().all(|(_, p)| matches!(p, Operand::Literal(_))) {
                Some(Operand::Literal(value.clone()))
            } else {
                Some(Operand::Object(parts))
            }
        }
        _ => Some(Operand::Literal(value.clone())),
    }
}

fn eval_node(templates: &Templates, node: &Compiled, ctx: &Arc<Json>, out: &mut Outcome) -> bool {
    match node {
        Compiled::Group { any, children } => {
            // Every child is evaluated, so the detail shows every condition.
            let results: Vec<bool> = children.iter().map(|c| eval_node(templates, c, ctx, out)).collect();
            if *any {
                results.contains(&true)
            } else {
                !results.contains(&false)
            }
        }
        Compiled::Leaf(leaf) => {
            let left = render(templates, &leaf.left, ctx, out);
            let right = leaf.right.as_ref().map(|r| render(templates, r, ctx, out));
            let (passed, reason) = match compare(
                leaf.op,
                &left,
                right.as_ref().unwrap_or(&Json::Null),
                leaf.regex.as_ref(),
            ) {
                Ok(passed) => (passed, None),
                Err(reason) => (false, Some(reason)),
            };
            out.detail.push(ConditionResult {
                path: leaf.path.clone(),
                left,
                op: leaf.op,
                right,
                passed,
                reason,
            });
            passed
        }
    }
}

fn render(templates: &Templates, operand: &Operand, ctx: &Arc<Json>, out: &mut Outcome) -> Json {
    match operand {
        Operand::Literal(value) => value.clone(),
        Operand::Template { path, template } => {
            let rendered = templates.render_shared(template, ctx);
            for name in rendered.missing {
                if !out.missing.contains(&name) {
                    out.missing.push(name);
                }
            }
            out.errors
                .extend(rendered.errors.into_iter().map(|e| format!("{path}: {e}")));
            rendered.value
        }
        Operand::Array(items) => Json::Array(items.iter().map(|i| render(templates, i, ctx, out)).collect()),
        Operand::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), render(templates, v, ctx, out)))
                .collect(),
        ),
    }
}
