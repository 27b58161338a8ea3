//! Jinja templates over a JSON context: compile once, render many times.

use std::collections::HashSet;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value as Json;

use crate::filters;
use crate::limits::{self, Breach, Budget};
use crate::track::{to_json, value_text, Recorder, Tracked};

/// How many VM instructions one render may run before it is stopped.
const FUEL: u64 = 5_000_000;
/// The name a compiled template has in its own environment.
const NAME: &str = "template";
/// A single-expression template is evaluated as `{% set VAR = <expression> %}`.
const VAR: &str = "__hookflow_value";
const EXPR_PREFIX: &str = "{% set __hookflow_value = ";
const EXPR_SUFFIX: &str = " %}";

/// The template engine, configured once and shared by every worker.
///
/// Autoescape is off, undefined values are chainable (`a.b.c` on a missing
/// `a` is empty, not an error), trailing newlines are kept, and the filters
/// `json`, `slugify`, `b64encode`, `b64decode`, `sha256` and `urlencode` are
/// added to minijinja's builtins.
#[derive(Debug, Clone)]
pub struct Templates {
    env: Environment<'static>,
    globals: Arc<HashSet<String>>,
    /// How long one render may run; [`limits::MAX_TIME`] unless set.
    time_limit: std::time::Duration,
}

/// A compiled template: cheap to clone, `Send + Sync`, rendered any number of times.
#[derive(Debug, Clone)]
pub struct Template {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: String,
    kind: Kind,
    /// The attribute chains the source names (`event.body.customer.phone`),
    /// used to tell which attribute was meant when a lookup failed.
    chains: Vec<String>,
}

#[derive(Debug)]
enum Kind {
    /// No template syntax at all: the source is the value.
    Plain,
    /// Renders to a string. The environment holds the compiled template.
    Text(Environment<'static>),
    /// Exactly one `{{ expression }}`: keeps the expression's type.
    /// `offset` is where the expression starts in the source.
    Expr { env: Environment<'static>, offset: usize },
}

/// What a render produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rendered {
    /// The result: a string, or for a single-expression template the
    /// expression's value (number, bool, array, object, null).
    pub value: Json,
    /// Attributes that were looked up and not found, as paths (`event.body.customer.phone`).
    pub missing: Vec<String>,
    /// Runtime errors (a filter on a wrong type, an unknown filter); `value` is then empty or null.
    pub errors: Vec<String>,
    /// The render was stopped by one of the hard limits (output, memory, size, depth), not by an
    /// ordinary mistake: the step that asked for it must fail rather than go on with an empty value.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exceeded: bool,
}

impl Rendered {
    /// The limit error, when the render broke a hard limit.
    pub fn limit_error(&self) -> Option<&str> {
        self.exceeded
            .then(|| self.errors.first().map_or("template exceeded a limit", String::as_str))
    }
}

impl Rendered {
    /// The value as text: strings as they are, null as nothing, numbers and
    /// booleans as JSON, arrays and objects as compact JSON.
    pub fn text(&self) -> String {
        match &self.value {
            Json::String(s) => s.clone(),
            Json::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// A template that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct TemplateError {
    /// What is wrong, e.g. "unexpected `}`, expected end of variable block".
    pub message: String,
    /// 1-based line in the template source.
    pub line: usize,
    /// 1-based column (in characters) in the template source.
    pub column: usize,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// Creates the engine. Build one per process and share it.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_keep_trailing_newline(true);
        env.set_debug(false);
        env.set_fuel(Some(FUEL));
        env.set_formatter(|out, _state, value| {
            let text = value_text(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?;
            out.write_str(&text)
                .map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
        });
        filters::register(&mut env);
        limits::install(&mut env);
        let globals = env.globals().map(|(name, _)| name.to_string()).collect();
        Templates {
            env,
            globals: Arc::new(globals),
            time_limit: limits::MAX_TIME,
        }
    }

    #[cfg(test)]
    pub(crate) fn environment_debug(&self) -> String {
        format!("{:?}", self.env)
    }

    /// The same engine with another time limit per render (tests of the fuel use a long one).
    pub fn with_time_limit(mut self, limit: std::time::Duration) -> Self {
        self.time_limit = limit;
        self
    }

    /// Compiles a template; syntax errors and unknown filters or tests are errors.
    pub fn compile(&self, source: &str) -> Result<Template, TemplateError> {
        if !has_markup(source) {
            return Ok(Template::new(source, Kind::Plain, Vec::new()));
        }
        let mut text_env = self.env.clone();
        text_env
            .add_template_owned(NAME, source.to_string())
            .map_err(|e| compile_error(source, &e))?;
        crate::scan::check_names(source)?;
        let mut chains: Vec<String> = match text_env.get_template(NAME) {
            Ok(t) => t.undeclared_variables(true).into_iter().collect(),
            Err(_) => Vec::new(),
        };
        chains.sort_by_key(|chain| (source.find(chain.as_str()), chain.clone()));

        if let Some((offset, expr)) = single_expression(source) {
            let mut env = self.env.clone();
            // A wrapper that doesn't compile (an expression holding `%}` in a
            // string) falls back to text rendering.
            if env
                .add_template_owned(NAME, format!("{EXPR_PREFIX}{expr}{EXPR_SUFFIX}"))
                .is_ok()
            {
                return Ok(Template::new(source, Kind::Expr { env, offset }, chains));
            }
        }
        Ok(Template::new(source, Kind::Text(text_env), chains))
    }

    /// Renders a compiled template. Never fails: problems are in `missing` and `errors`.
    ///
    /// The context is copied once per call; see [`render_shared`](Self::render_shared).
    pub fn render(&self, template: &Template, ctx: &Json) -> Rendered {
        match template.inner.kind {
            // Plain text doesn't look at the context: don't copy it.
            Kind::Plain => self.render_shared(template, &Arc::new(Json::Null)),
            _ => self.render_shared(template, &Arc::new(ctx.clone())),
        }
    }

    /// Like [`render`](Self::render), for a context already behind an `Arc`:
    /// rendering several templates over one context then copies it no more.
    pub fn render_shared(&self, template: &Template, ctx: &Arc<Json>) -> Rendered {
        if let Kind::Plain = template.inner.kind {
            // No template syntax: nothing runs, so there is nothing to hold to a budget.
            return Rendered {
                value: Json::String(template.inner.source.clone()),
                missing: Vec::new(),
                errors: Vec::new(),
                exceeded: false,
            };
        }
        match limits::long_render_hook() {
            // A render that runs past LONG_RENDER stops and runs again through the hook, which
            // runs it off the threads that answer others (renders are pure: the same again).
            Some(hook) => match self.render_once(template, ctx, true) {
                Some(rendered) => rendered,
                None => {
                    let mut rendered = None;
                    hook(&mut || rendered = self.render_once(template, ctx, false));
                    rendered.expect("a render that may not defer returns")
                }
            },
            None => self
                .render_once(template, ctx, false)
                .expect("a render that may not defer returns"),
        }
    }

    /// One render; `None` when `may_defer` and it ran past [`limits::LONG_RENDER`].
    fn render_once(&self, template: &Template, ctx: &Arc<Json>, may_defer: bool) -> Option<Rendered> {
        let inner = &*template.inner;
        let recorder = Arc::new(Recorder::default());
        let root = Tracked::root(ctx.clone(), recorder.clone(), self.globals.clone());
        let mut errors = Vec::new();
        let budget = Budget::start(self.time_limit, may_defer);
        let value = match &inner.kind {
            Kind::Plain => Json::String(inner.source.clone()),
            Kind::Text(env) => {
                let mut out = Bounded::default();
                match env
                    .get_template(NAME)
                    .and_then(|t| t.render_captured_to(root, &mut out).map(drop))
                {
                    Ok(_) => Json::String(out.into_string()),
                    Err(_) if out.full => {
                        errors.push(Breach::Output.note().to_string());
                        Json::String(String::new())
                    }
                    Err(e) => {
                        errors.push(runtime_error(&inner.source, &e, |at| at));
                        Json::String(String::new())
                    }
                }
            }
            Kind::Expr { env, offset } => {
                let result = env.get_template(NAME).and_then(|t| {
                    let captured = t.render_captured(root)?;
                    Ok(captured.state().lookup(VAR).unwrap_or(Value::UNDEFINED))
                });
                let to_source = |at: usize| (at + offset).saturating_sub(EXPR_PREFIX.len());
                match result {
                    Ok(value) => expression_json(&value).unwrap_or_else(|e| {
                        errors.push(format!("{}: {e}", position_text(&inner.source, *offset)));
                        Json::Null
                    }),
                    Err(e) => {
                        errors.push(runtime_error(&inner.source, &e, to_source));
                        Json::Null
                    }
                }
            }
        };
        if budget.deferred() {
            return None;
        }
        let exceeded = budget.breached();
        drop(budget);
        let missing = expand_missing(recorder.take(), &inner.chains);
        Some(Rendered {
            value,
            missing,
            errors,
            exceeded,
        })
    }

    /// Compiles and renders in one go, for one-off use.
    pub fn render_str(&self, source: &str, ctx: &Json) -> Result<Rendered, TemplateError> {
        let template = self.compile(source)?;
        Ok(self.render(&template, ctx))
    }
}

impl Template {
    fn new(source: &str, kind: Kind, chains: Vec<String>) -> Self {
        Template {
            inner: Arc::new(Inner {
                source: source.to_string(),
                kind,
                chains,
            }),
        }
    }

    /// The source this template was compiled from.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// Whether the template is exactly one `{{ expression }}` and so keeps
    /// the expression's type when rendered.
    pub fn is_single_expression(&self) -> bool {
        matches!(self.inner.kind, Kind::Expr { .. })
    }

    /// Whether the template is plain text without any template syntax.
    pub fn is_plain(&self) -> bool {
        matches!(self.inner.kind, Kind::Plain)
    }
}

/// The output of a text template, refusing to grow past [`limits::MAX_OUTPUT`].
#[derive(Default)]
struct Bounded {
    bytes: Vec<u8>,
    full: bool,
}

impl Bounded {
    fn into_string(self) -> String {
        // minijinja writes whole `str`s, so the bytes are UTF-8.
        String::from_utf8(self.bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > limits::MAX_OUTPUT {
            self.full = true;
            return Err(std::io::Error::other(Breach::Output.to_string()));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON of a single expression's value: measured first when the template
/// made it (an event attribute as it is was bounded at ingest), so that no
/// conversion walks a value deeper or larger than the limits.
fn expression_json(value: &Value) -> Result<Json, String> {
    if value.downcast_object_ref::<Tracked>().is_none() {
        limits::check_value(value).map_err(|breach| breach.note().to_string())?;
    }
    let json = to_json(value)?;
    if hookflow_core::depth::deeper_than(&json, limits::MAX_JSON_DEPTH) {
        Breach::Depth.note();
        return Err(format!(
            "the value is nested deeper than {} levels, more than a step output may hold",
            limits::MAX_JSON_DEPTH
        ));
    }
    Ok(json)
}

fn has_markup(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

/// When the trimmed source is exactly one `{{ expression }}`, the byte offset
/// of the expression in the source and the expression.
fn single_expression(source: &str) -> Option<(usize, &str)> {
    let trimmed = source.trim();
    let inner = trimmed.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    if ["{{", "}}", "{%", "%}", "{#", "#}"].iter().any(|m| inner.contains(m)) {
        return None;
    }
    let expr = inner.trim();
    let offset = expr.as_ptr() as usize - source.as_ptr() as usize;
    Some((offset, expr))
}

/// Maps failed lookups to the attributes the template names.
///
/// A lookup fails at the first missing step (`event.body.customer` when the
/// body has no customer); the template may have gone on (`.phone`). When the
/// template names the failed path itself, that is reported; otherwise every
/// longer chain the template names below it; otherwise the failed path.
fn expand_missing(misses: Vec<String>, chains: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for miss in misses {
        let below: Vec<&String> = chains
            .iter()
            .filter(|c| c.strip_prefix(miss.as_str()).is_some_and(|rest| rest.starts_with('.')))
            .collect();
        let found: Vec<String> = if below.is_empty() || chains.contains(&miss) {
            vec![miss]
        } else {
            below.into_iter().cloned().collect()
        };
        for path in found {
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn position(source: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn position_text(source: &str, at: usize) -> String {
    let (line, column) = position(source, at);
    format!("line {line}, column {column}")
}

fn message(e: &Error) -> String {
    match (e.kind(), e.detail()) {
        (ErrorKind::OutOfFuel, _) => {
            format!("the template ran too long (more than {FUEL} steps) and was stopped")
        }
        (
            kind @ (ErrorKind::UnknownFilter
            | ErrorKind::UnknownFunction
            | ErrorKind::UnknownTest
            | ErrorKind::UnknownMethod),
            Some(detail),
        ) => format!("{kind}: {detail}"),
        (_, Some(detail)) => detail.to_string(),
        (kind, None) => kind.to_string(),
    }
}

fn compile_error(source: &str, e: &Error) -> TemplateError {
    let (line, column) = match e.range() {
        Some(range) => position(source, range.start),
        None => (e.line().unwrap_or(1), 1),
    };
    TemplateError {
        message: message(e),
        line,
        column,
    }
}

/// A runtime error as a message with its position in the user's source.
fn runtime_error(source: &str, e: &Error, to_source: impl Fn(usize) -> usize) -> String {
    match e.range() {
        Some(range) => format!("{}: {}", position_text(source, to_source(range.start)), message(e)),
        None => match e.line() {
            Some(line) if !source.is_empty() => format!("line {line}: {}", message(e)),
            _ => message(e),
        },
    }
}
