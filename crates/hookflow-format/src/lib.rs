//! The `formatter` step: date and time, counters, math, text, data parsing,
//! conversions, line items and lookup tables (SPEC section 4). Pure: no IO,
//! no async, no global state (time zones come from jiff's database).
//!
//! [`compile`] checks a step once (when the connector document is saved) and
//! compiles its templates, regexes, time zones, durations, formats and paths;
//! [`Formatter::run`] renders the templates over an event's context and
//! computes the output. A run never panics and never returns `Err` itself: a
//! failure is [`Outcome::result`]'s `Err` with a message, next to the rendered
//! input and the missing attributes. A counter needs storage, so its run
//! returns [`Output::Counter`] for the engine to perform.
//!
//! # The step
//!
//! ```json
//! {"id": "when", "type": "formatter", "kind": "datetime", "operation": "format",
//!  "input": "{{ event.body.created_at }}", "format": "%d %b %Y %H:%M", "timezone": "Asia/Kolkata"}
//! ```
//!
//! - `id` and `type` belong to the engine and are ignored. `kind` picks the
//!   kind, `operation` (for `data_parser`: `format`) the operation; both are
//!   literal strings. Any other key must be a field of that operation: an
//!   unknown key, kind or operation is a [`ConfigError`] that lists the valid ones.
//! - Every string in a field, also inside objects and arrays (`fields`,
//!   `table`, `fallback`), is a template. A template that is exactly one
//!   `{{ expression }}` keeps the expression's type (number, array, ...).
//!   Numbers and booleans may be given as JSON or as templates (`"3"`,
//!   `"{{ item.qty }}"`, `"true"`).
//! - Whatever can be checked without an event is checked by `compile`: a
//!   template that does not compile (with its line and column), a bad regex,
//!   time zone, duration, strftime format, path, number, boolean, delimiter or
//!   encoding. The same mistake coming out of a template fails the run.
//! - An optional field that is empty (`""` or null, also after rendering, as
//!   when a template names a missing attribute) takes its default. Exception:
//!   `suffix` of `truncate`, where `""` means no suffix.
//! - [`Outcome::input`] holds the rendered fields (all but `kind`, the
//!   operation and a lookup's `table`), in the step's order.
//! - Run errors read like "input `abc` is not a date-time (...)": the field's
//!   name, then what is wrong with its value.
//!
//! # Kinds
//!
//! Every output is an object with `value`; some kinds add fields.
//!
//! ## `datetime`
//!
//! | operation | required | optional |
//! |---|---|---|
//! | `format` | `input`, `format` | `timezone`, `input_format`, `input_timezone` |
//! | `parse` | `input` | `timezone`, `input_format`, `input_timezone` |
//! | `add`, `subtract` | `input`, `duration` | `format`, `timezone`, `input_format`, `input_timezone` |
//! | `convert_timezone` | `input`, `timezone` | `format`, `input_format`, `input_timezone` |
//! | `now` | | `format`, `timezone` |
//!
//! Output: `{"value": "22 Nov 2026 15:30", "iso": "2026-11-22T15:30:00+05:30",
//! "unix": 1795341600, "timezone": "Asia/Kolkata"}`. `value` is the date-time
//! formatted with `format`, or `iso` without one. `iso` is RFC 3339 in
//! `timezone` (`Z` in UTC, fractional seconds only when there are any),
//! `unix` whole seconds, `timezone` the zone as given (default `UTC`).
//!
//! - `input`: RFC 3339 / ISO 8601 with an offset (`2026-11-22T10:00:00Z`,
//!   `...+05:30`, also `...+01:00[Europe/Paris]`) or without one
//!   (`2026-11-22T10:00:00`, `2026-11-22 10:00`, `2026-11-22` = midnight),
//!   which is read in `input_timezone` (default UTC); RFC 2822
//!   (`Sun, 22 Nov 2026 10:00:00 +0000`, also `GMT`);
//!   `2026-11-22 10:00:00 +0000` and `2026-11-22 10:00:00 UTC`; Unix time as
//!   a number or digit string, seconds, or milliseconds from 10^11 on,
//!   fractions allowed. Other layouts (`22/11/2026`) need `input_format`, a
//!   strftime pattern: an offset (`%z`) or zone (`%Q`) parsed from the input
//!   wins over `input_timezone`, a missing time is midnight. `now` takes the
//!   `now` given to [`Formatter::run`].
//! - `format`, `input_format`: jiff strftime (`%Y-%m-%d %H:%M`, `%d %b %Y`,
//!   `%A`, `%I:%M %p`, `%z`, `%:z`, `%Z`, `%s` for Unix seconds, `%-d` without padding).
//! - `timezone`, `input_timezone`: an IANA name (`Europe/Paris`), `UTC`, or
//!   a fixed offset (`+05:30`, `-0800`).
//! - `duration`: units `ms`, `s`, `m`, `h`, `d`, `w`, `mo`, `y` (also
//!   spelled out: `2 days`), sums (`1d12h`, `1w 2 days`), a leading `-` or
//!   a trailing `ago` to negate, ISO 8601 (`P1DT2H`), or a whole number of
//!   seconds. Arithmetic is done in `timezone`: days keep the wall-clock
//!   time across daylight saving changes (24h does not), and months and
//!   years clamp to the end of the month (Jan 31 + 1mo = Feb 28 or 29).
//!
//! ## `counter`
//!
//! `operation` `increment` (the default; fields `name`, optional `by`,
//! default 1, any finite number, negative to decrement) or `read` (`name`).
//! The run returns [`Output::Counter`] with the name (trimmed; empty or
//! longer than 200 characters is an error) and `by` (0 for `read`); the
//! engine updates the workspace counter and outputs `{"value": n}`.
//!
//! ## `math`
//!
//! No operation. `expression` is rendered to text and evaluated by
//! [`hookflow_expr::eval_math`] (`{{ item.quantity }} * {{ item.price }}`;
//! `+ - * / % ^`, `abs ceil floor max min round sqrt`). Optional `round`:
//! decimal digits from 0 to 10, half away from zero on the number as written
//! (2.675 to 2 digits is 2.68). Output `{"value": 59.97}`: an integer when
//! the result is whole.
//!
//! ## `text`
//!
//! `input` is rendered to text (null is empty; numbers, arrays and objects
//! are JSON). Output `{"value": ...}`, plus the noted fields.
//!
//! | operation | fields | value |
//! |---|---|---|
//! | `upper`, `lower` | | Unicode case mapping (`ß` upper is `SS`) |
//! | `title` | | each word (split at whitespace and `-`) with its first letter or digit in uppercase and the rest lowercase |
//! | `capitalize` | | the first character in uppercase, the rest unchanged |
//! | `trim` | | without leading and trailing whitespace |
//! | `replace` | `find`; `replace_with` (default `""`), `regex` (false), `case_insensitive` (false) | every occurrence replaced; with `regex`, `find` is a regex (Rust syntax) and `$1`, `${name}` in `replace_with` are its groups |
//! | `split` | `separator` (default `,`), `index` | with `index`, the part at that position (negative counts from the end; out of range is null), else all parts; parts are not trimmed; also `"count"`: the number of parts |
//! | `truncate` | `length`; `suffix` (default `…`) | at most `length` characters, suffix included: a longer text is cut to `length` minus the suffix's length, trailing whitespace removed, then the suffix added; if the suffix alone is as long as `length`, the text is cut to `length` with no suffix |
//! | `extract` | `pattern`; `group` (a number or a name; default 0, the whole match), `case_insensitive` | the group of the first match, or null; also `"matches"`: the group of every match (null where the group did not take part) |
//! | `url_encode` | | every byte but `A-Z a-z 0-9 - . _ ~` as `%XX` (like `encodeURIComponent`) |
//! | `url_decode` | | `%XX` and `+` (space) decoded; a bad `%` sequence stays; invalid UTF-8 becomes U+FFFD |
//! | `slugify` | | lowercase letters and digits (Unicode letters kept), every other run one `-`, none at the ends (the template filter `slugify`) |
//! | `length` | | the number of characters (Unicode scalar values) |
//! | `default` | `fallback` | the input text, or when it is empty or only whitespace the rendered `fallback` (any type) |
//!
//! ## `data_parser`
//!
//! `format` (instead of `operation`) and `input` (text), optional `path`.
//! Output `{"value": ...}`: the parsed data, or the value at `path` (null
//! when there is none). An empty input gives null.
//!
//! | format | fields | result |
//! |---|---|---|
//! | `json` | | the JSON value |
//! | `csv` | `delimiter` (one character, default `,`), `header` (default true) | RFC 4180: with a header, an array of objects keyed by the first row (every value a string; a missing cell null; a cell beyond the header keyed `column_N`), else an array of arrays of strings |
//! | `xml` | | as in `hookflow-payload`: the root element is the top key, text is a string, attributes are `@name`, repeated elements arrays |
//! | `kv` | `separator` (default: `&` and line breaks), `decode` (false) | an object of `key=value` pairs (split at the first `=`, trimmed; no `=` means `""`; a repeated key an array); `decode` undoes `%XX` and `+` |
//! | `form` | | `application/x-www-form-urlencoded`, as for the query string of `hookflow-payload` |
//!
//! `path`: dotted names and brackets, `items[0].sku`, `rows[-1]` (from the
//! end), `["smtp-id"]` or `['a.b']` for other keys; a name of digits also
//! indexes an array (`items.0.sku`), an index also names an object key.
//!
//! ## `convert`
//!
//! | operation | fields | value |
//! |---|---|---|
//! | `base64_encode` | `encoding`, `url_safe` (false) | standard base64 with padding, or URL-safe without |
//! | `base64_decode` | `encoding` | decodes standard or URL-safe base64, padded or not, whitespace ignored |
//! | `hex_encode` | `encoding` | lowercase hex |
//! | `hex_decode` | `encoding` | decodes hex, either case, whitespace and a `0x` prefix ignored |
//! | `csv_to_json` | `delimiter`, `header` | as the `csv` data parser |
//! | `json_to_csv` | `delimiter`, `header` (default true) | `input`: an array of objects, or a JSON string of one; the header is the union of keys in first-seen order; strings as they are, null and missing empty, other values JSON; fields with the delimiter, a quote or a line break quoted (quotes doubled); rows joined by `\n`, none after the last; an empty input is `""` |
//! | `text_encoding` | `from`, `to` (both required) | `input` is base64 of text in `from`; the value is base64 of the same text in `to` |
//!
//! `encoding` says how text becomes bytes and back: `utf8` (default) or
//! `latin1` (ISO-8859-1, one byte per character). Decoded bytes that are not
//! UTF-8 are an error (set `latin1` to read them); a character above U+00FF
//! cannot be encoded as latin1.
//!
//! ## `line_items`
//!
//! - `to_items`: `fields` is an object of item field name to template; each
//!   renders to an array, or to text split at `separator` (default `,`,
//!   parts trimmed; empty text is no parts), or another single value (one
//!   element). The value is an array of objects zipped by position, shorter
//!   lists padded with null; also `"count"`.
//! - `to_text`: `input` is an array of objects (or a JSON string of one; an
//!   empty input is no items); the value is an object of field name to the
//!   field's values joined with `separator` (default `,`; a missing value is
//!   empty), for every key in first-seen order or for `fields` (an array of
//!   names, or comma-separated text); also `"count"`: the number of items.
//!
//! ## `lookup`
//!
//! No operation. `input` (text, trimmed), `table` (an object of key to any
//! value; its string values are templates, rendered only when chosen),
//! optional `fallback` (any value, default null) and `case_insensitive`
//! (false; an exact match still wins). Output `{"value": ..., "found": bool}`.

mod convert;
mod counter;
mod csv;
mod data_parser;
mod datetime;
mod fields;
mod line_items;
mod lookup;
mod math;
mod path;
mod text;

use std::sync::Arc;

use hookflow_expr::Templates;
use serde_json::{Map, Value};

use crate::fields::{Arg, Fields, Renders};

/// A checked formatter step, compiled once (templates, regexes, time zones)
/// and run for many events. Cheap to clone, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Formatter {
    kind: &'static str,
    operation: Option<&'static str>,
    fields: Fields,
    step: Step,
}

/// A problem in a step's configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Where, relative to the step object: `format`, `table`, `fields.qty`, or
    /// `""` for the step as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// What one run of a step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The rendered fields (what the journal shows as the step's input): every
    /// field of the step but `id`, `type`, `kind`, the operation (or a data
    /// parser's `format`) and a lookup's `table`, in the step's order, e.g.
    /// `{"input": "2026-11-22T10:00:00Z", "format": "%d %b %Y"}`.
    pub input: Value,
    /// The output, or a message saying why the step failed, e.g.
    /// "input `abc` is not a date-time (...)".
    pub result: Result<Output, String>,
    /// Attributes the templates looked up and did not find, merged over all fields.
    pub missing: Vec<String>,
}

/// The output of a successful run.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The step's output object; it always has `value` and may have more fields.
    Value(Value),
    /// A counter needs workspace storage: the engine adds `by` to the counter
    /// `name` (or only reads it when `read_only`, `by` is then 0) and builds
    /// the output `{"value": n}`.
    Counter { name: String, by: f64, read_only: bool },
}

#[derive(Debug, Clone)]
enum Step {
    Datetime(datetime::Step),
    Counter(counter::Step),
    Math(math::Step),
    Text(text::Step),
    DataParser(data_parser::Step),
    Convert(convert::Step),
    LineItems(line_items::Step),
    Lookup(lookup::Step),
}

/// The fields one operation of a kind takes.
struct OpSpec {
    name: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
}

/// A kind, the key that picks its operation and the operations.
struct KindSpec {
    name: &'static str,
    /// `operation`, `format` (data parser) or none (one implicit operation).
    selector: Option<&'static str>,
    /// The operation when the selector is absent; `None` means it is required.
    default: Option<&'static str>,
    ops: &'static [OpSpec],
}

const fn op(name: &'static str, required: &'static [&'static str], optional: &'static [&'static str]) -> OpSpec {
    OpSpec {
        name,
        required,
        optional,
    }
}

const INPUT: &[&str] = &["input"];
const DT_IN: &[&str] = &["timezone", "input_format", "input_timezone"];
const DT_ADD: &[&str] = &["format", "timezone", "input_format", "input_timezone"];

const KINDS: &[KindSpec] = &[
    KindSpec {
        name: "datetime",
        selector: Some("operation"),
        default: None,
        ops: &[
            op("format", &["input", "format"], DT_IN),
            op("parse", INPUT, DT_IN),
            op("add", &["input", "duration"], DT_ADD),
            op("subtract", &["input", "duration"], DT_ADD),
            op(
                "convert_timezone",
                &["input", "timezone"],
                &["format", "input_format", "input_timezone"],
            ),
            op("now", &[], &["format", "timezone"]),
        ],
    },
    KindSpec {
        name: "counter",
        selector: Some("operation"),
        default: Some("increment"),
        ops: &[op("increment", &["name"], &["by"]), op("read", &["name"], &[])],
    },
    KindSpec {
        name: "math",
        selector: None,
        default: None,
        ops: &[op("", &["expression"], &["round"])],
    },
    KindSpec {
        name: "text",
        selector: Some("operation"),
        default: None,
        ops: &[
            op("upper", INPUT, &[]),
            op("lower", INPUT, &[]),
            op("title", INPUT, &[]),
            op("capitalize", INPUT, &[]),
            op("trim", INPUT, &[]),
            op(
                "replace",
                &["input", "find"],
                &["replace_with", "regex", "case_insensitive"],
            ),
            op("split", INPUT, &["separator", "index"]),
            op("truncate", &["input", "length"], &["suffix"]),
            op("extract", &["input", "pattern"], &["group", "case_insensitive"]),
            op("url_encode", INPUT, &[]),
            op("url_decode", INPUT, &[]),
            op("slugify", INPUT, &[]),
            op("length", INPUT, &[]),
            op("default", &["input", "fallback"], &[]),
        ],
    },
    KindSpec {
        name: "data_parser",
        selector: Some("format"),
        default: None,
        ops: &[
            op("json", INPUT, &["path"]),
            op("csv", INPUT, &["delimiter", "header", "path"]),
            op("xml", INPUT, &["path"]),
            op("kv", INPUT, &["separator", "decode", "path"]),
            op("form", INPUT, &["path"]),
        ],
    },
    KindSpec {
        name: "convert",
        selector: Some("operation"),
        default: None,
        ops: &[
            op("base64_encode", INPUT, &["encoding", "url_safe"]),
            op("base64_decode", INPUT, &["encoding"]),
            op("hex_encode", INPUT, &["encoding"]),
            op("hex_decode", INPUT, &["encoding"]),
            op("csv_to_json", INPUT, &["delimiter", "header"]),
            op("json_to_csv", INPUT, &["delimiter", "header"]),
            op("text_encoding", &["input", "from", "to"], &[]),
        ],
    },
    KindSpec {
        name: "line_items",
        selector: Some("operation"),
        default: None,
        ops: &[
            op("to_items", &["fields"], &["separator"]),
            op("to_text", INPUT, &["fields", "separator"]),
        ],
    },
    KindSpec {
        name: "lookup",
        selector: None,
        default: None,
        ops: &[op("", &["input", "table"], &["fallback", "case_insensitive"])],
    },
];

/// Keys every step may have; the engine reads them, the formatter ignores them.
const STEP_KEYS: &[&str] = &["id", "type"];

fn names<'a>(list: impl IntoIterator<Item = &'a str>) -> String {
    list.into_iter().collect::<Vec<_>>().join(", ")
}

/// Checks a formatter step and compiles its templates, regexes, time zones,
/// durations and formats. Every problem found is returned, in the step's key order.
pub fn compile(templates: &Templates, step: &Value) -> Result<Formatter, Vec<ConfigError>> {
    let Some(obj) = step.as_object() else {
        return Err(vec![ConfigError::new("", "a formatter step must be a JSON object")]);
    };
    let kind_names = || names(KINDS.iter().map(|k| k.name));
    let kind = match obj.get("kind") {
        None => {
            return Err(vec![ConfigError::new(
                "kind",
                format!("missing required field; kinds: {}", kind_names()),
            )])
        }
        Some(value) => match KINDS.iter().find(|k| value.as_str() == Some(k.name)) {
            Some(kind) => kind,
            None => {
                return Err(vec![ConfigError::new(
                    "kind",
                    format!("unknown kind {}; kinds: {}", fields::show(value), kind_names()),
                )])
            }
        },
    };
    let op_names = || names(kind.ops.iter().map(|o| o.name));
    let spec = match kind.selector {
        None => &kind.ops[0],
        Some(selector) => {
            let what = selector;
            let chosen = match obj.get(selector) {
                None => match kind.default {
                    Some(default) => Value::String(default.to_string()),
                    None => {
                        return Err(vec![ConfigError::new(
                            selector,
                            format!("missing required field; {what}s of {}: {}", kind.name, op_names()),
                        )])
                    }
                },
                Some(value) => value.clone(),
            };
            match kind.ops.iter().find(|o| chosen.as_str() == Some(o.name)) {
                Some(spec) => spec,
                None => {
                    return Err(vec![ConfigError::new(
                        selector,
                        format!(
                            "unknown {what} {}; {what}s of {}: {}",
                            fields::show(&chosen),
                            kind.name,
                            op_names()
                        ),
                    )])
                }
            }
        }
    };
    let title = match kind.selector {
        None => kind.name.to_string(),
        Some(_) => format!("{} `{}`", kind.name, spec.name),
    };

    let mut errors = Vec::new();
    let mut list = Vec::new();
    for (key, value) in obj {
        let key = key.as_str();
        if STEP_KEYS.contains(&key) || key == "kind" || Some(key) == kind.selector {
            continue;
        }
        if !spec.required.contains(&key) && !spec.optional.contains(&key) {
            let takes = names(spec.required.iter().chain(spec.optional).copied());
            let takes = if takes.is_empty() {
                "no fields".to_string()
            } else {
                takes
            };
            errors.push(ConfigError::new(key, format!("unknown field; {title} takes {takes}")));
            continue;
        }
        list.push((key.to_string(), Arg::compile(templates, key, value, &mut errors)));
    }
    for required in spec.required {
        if !obj.contains_key(*required) {
            errors.push(ConfigError::new(*required, "missing required field"));
        }
    }
    let fields = Fields::new(list);
    let mut step_errors = Vec::new();
    let step = match kind.name {
        "datetime" => Step::Datetime(datetime::Step::compile(spec.name, &fields, &mut step_errors)),
        "counter" => Step::Counter(counter::Step::compile(spec.name, &fields, &mut step_errors)),
        "math" => Step::Math(math::Step::compile(&fields, &mut step_errors)),
        "text" => Step::Text(text::Step::compile(spec.name, &fields, &mut step_errors)),
        "data_parser" => Step::DataParser(data_parser::Step::compile(spec.name, &fields, &mut step_errors)),
        "convert" => Step::Convert(convert::Step::compile(spec.name, &fields, &mut step_errors)),
        "line_items" => Step::LineItems(line_items::Step::compile(spec.name, &fields, &mut step_errors)),
        _ => Step::Lookup(lookup::Step::compile(&fields, &mut step_errors)),
    };
    // A field with a template error or a missing field is reported once.
    for e in step_errors {
        if !errors.iter().any(|seen| seen.path == e.path) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        let order = |path: &str| {
            let top = path.split(['.', '[']).next().unwrap_or(path);
            obj.keys().position(|k| k == top).unwrap_or(usize::MAX)
        };
        errors.sort_by_key(|e| order(&e.path));
        return Err(errors);
    }
    Ok(Formatter {
        kind: kind.name,
        operation: kind.selector.map(|_| spec.name),
        fields,
        step,
    })
}

/// What a kind's run gets besides the rendered fields.
pub(crate) struct RunEnv<'a> {
    pub(crate) templates: &'a Templates,
    pub(crate) ctx: &'a Arc<Value>,
    pub(crate) renders: &'a mut Renders,
    pub(crate) now: jiff::Timestamp,
}

impl Formatter {
    /// The kind: `datetime`, `counter`, `math`, `text`, `data_parser`, `convert`,
    /// `line_items` or `lookup`.
    pub fn kind(&self) -> &str {
        self.kind
    }

    /// The operation (a data parser's `format`); `None` for `math` and `lookup`.
    pub fn operation(&self) -> Option<&str> {
        self.operation
    }

    /// Renders the step's templates over `ctx` and computes the output.
    /// `now` is what the datetime `now` operation returns.
    pub fn run(&self, templates: &Templates, ctx: &Value, now: jiff::Timestamp) -> Outcome {
        let ctx = Arc::new(ctx.clone());
        let mut renders = Renders::default();
        let skip: &[&str] = match self.step {
            Step::Lookup(_) => &["table"],
            _ => &[],
        };
        let values = self.fields.render(templates, &ctx, skip, &mut renders);
        let result = match renders.errors.first() {
            Some(error) => Err(error.clone()),
            None => {
                let mut env = RunEnv {
                    templates,
                    ctx: &ctx,
                    renders: &mut renders,
                    now,
                };
                self.run_kind(&values, &mut env)
            }
        };
        Outcome {
            input: Value::Object(values),
            result,
            missing: renders.missing,
        }
    }

    fn run_kind(&self, values: &Map<String, Value>, env: &mut RunEnv<'_>) -> Result<Output, String> {
        let value = match &self.step {
            Step::Datetime(s) => s.run(values, env.now)?,
            Step::Counter(s) => return s.run(values),
            Step::Math(s) => s.run(values)?,
            Step::Text(s) => s.run(values)?,
            Step::DataParser(s) => s.run(values)?,
            Step::Convert(s) => s.run(values)?,
            Step::LineItems(s) => s.run(values)?,
            Step::Lookup(s) => s.run(values, env)?,
        };
        Ok(Output::Value(value))
    }
}
