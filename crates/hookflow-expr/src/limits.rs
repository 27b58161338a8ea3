//! Hard limits of one render, so that no template can crash or starve the process.
//!
//! Fuel bounds how many instructions a render runs, not what they build: a
//! loop that wraps a list in a list 100,000 times builds a value whose drop
//! overflows a worker's stack, and a few `a ~ a` double a string into
//! gigabytes. minijinja is patched (vendor/minijinja) to run [`step_check`]
//! before every instruction; it stops the render with an error when
//!
//! - the render has run longer than its time limit ([`MAX_TIME`] by default;
//!   the clock is read every 16 instructions),
//! - the render holds more than [`MAX_MEMORY`] bytes it allocated (counted by
//!   `hookflow_alloc::Counting`, the binary's allocator; without it this
//!   check is off),
//! - a value the template made is a string longer than [`MAX_STRING`], a list
//!   or map nested deeper than [`MAX_DEPTH`], or holds more than [`MAX_ITEMS`]
//!   items and [`MAX_VALUE_BYTES`] bytes of text in all (a lazy `[s] * 10000`
//!   counts as what it would become).
//!
//! The event itself (the `Tracked` context) is not measured: ingest bounds it.
//! Besides: output is cut at [`MAX_OUTPUT`], macros recurse at most
//! [`RECURSION`] deep, and the builtin filters that multiply their input
//! (`replace`, `indent`, `tojson`, `format`) check the size of their result
//! before building it.
//!
//! A render that runs past [`LONG_RENDER`] stops and runs again through the
//! hook the engine sets with [`on_long_render`] (tokio's `block_in_place`), so
//! that a heavy template does not hold up the other tasks of its thread.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::track::Tracked;

/// Largest rendered output of one template.
pub const MAX_OUTPUT: usize = 1 << 20;
/// Most memory one render may hold at once.
pub const MAX_MEMORY: isize = 32 << 20;
/// Longest string a template may build.
pub const MAX_STRING: usize = 1 << 20;
/// Deepest nesting of lists and maps a template may build.
pub const MAX_DEPTH: usize = 32;
/// Most items in one value a template builds, counted through every level.
pub const MAX_ITEMS: usize = 10_000;
/// Most text in one value a template builds, counted through every level.
pub const MAX_VALUE_BYTES: usize = 4 << 20;
/// Deepest recursion of macros and recursive loops.
pub const RECURSION: usize = 32;
/// Longest a render may run. Fuel counts instructions, and one instruction may work on a
/// megabyte (`s | replace(...)` in a loop), so time is bounded too.
pub const MAX_TIME: std::time::Duration = std::time::Duration::from_secs(1);
/// Instructions between two looks at the clock.
const CLOCK_EVERY: u32 = 16;
/// A render that runs this long stops and runs again through the hook set by [`on_long_render`].
pub const LONG_RENDER: std::time::Duration = std::time::Duration::from_millis(5);

/// Runs a render that took long a second time, the way the engine wants it run: off the threads
/// that answer others (tokio's `block_in_place`), so a heavy template does not hold them up.
pub type LongRender = fn(&mut dyn FnMut());

static ON_LONG_RENDER: std::sync::OnceLock<LongRender> = std::sync::OnceLock::new();

/// Sets how long renders run (once per process; later calls change nothing). Without it, every
/// render runs where it is called, however long it takes.
pub fn on_long_render(hook: LongRender) {
    let _ = ON_LONG_RENDER.set(hook);
}

pub(crate) fn long_render_hook() -> Option<LongRender> {
    ON_LONG_RENDER.get().copied()
}

/// The clock of the render on this thread.
#[derive(Clone, Copy)]
struct Clock {
    started: std::time::Instant,
    deadline: std::time::Instant,
    /// Instructions since the clock was last read.
    steps: u32,
    /// Stop at [`LONG_RENDER`] (to run again through the hook); then, whether it stopped so.
    may_defer: bool,
    deferred: bool,
}
/// Deepest JSON a single expression may return: what hookflow keeps may nest (step outputs are
/// kept in the journal and read back).
pub use hookflow_core::depth::MAX_JSON_DEPTH;
/// Largest indent of `indent` and `tojson`.
const MAX_INDENT: usize = 64;

/// Which limit a render broke; its text is the step error users see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breach {
    Output,
    Memory,
    String,
    Depth,
    Items,
    Bytes,
    Time,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::Output => write!(f, "template exceeded the {} output limit", size(MAX_OUTPUT)),
            Breach::Memory => write!(f, "template exceeded the {} memory limit", size(MAX_MEMORY as usize)),
            Breach::String => write!(f, "template built a string over the {} limit", size(MAX_STRING)),
            Breach::Depth => write!(f, "template built a value nested deeper than {MAX_DEPTH} levels"),
            Breach::Items => write!(f, "template built a value of more than {MAX_ITEMS} items"),
            Breach::Bytes => write!(
                f,
                "template built a value holding more than {} of text",
                size(MAX_VALUE_BYTES)
            ),
            Breach::Time => write!(
                f,
                "template ran past its time limit ({} s by default)",
                MAX_TIME.as_secs()
            ),
        }
    }
}

fn size(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}

impl Breach {
    /// Marks the render on this thread as stopped by a limit.
    pub(crate) fn note(self) -> Self {
        BREACHED.set(true);
        self
    }

    pub(crate) fn error(self) -> Error {
        Error::new(ErrorKind::InvalidOperation, self.to_string())
    }
}

thread_local! {
    /// `hookflow_alloc::thread_net()` when the render on this thread started.
    static MEMORY_BASE: Cell<Option<isize>> = const { Cell::new(None) };
    /// When the render on this thread must stop, and its instructions since the clock was read.
    static CLOCK: Cell<Option<Clock>> = const { Cell::new(None) };
    /// Whether the render on this thread broke a limit.
    static BREACHED: Cell<bool> = const { Cell::new(false) };
}

/// Holds the memory budget and the clock of the render on this thread while it lives.
pub(crate) struct Budget {
    previous: Option<isize>,
    clock: Option<Clock>,
}

impl Budget {
    pub(crate) fn start(time_limit: std::time::Duration, may_defer: bool) -> Budget {
        BREACHED.set(false);
        Budget {
            previous: MEMORY_BASE.replace(Some(hookflow_alloc::thread_net())),
            clock: CLOCK.replace(Some({
                let started = std::time::Instant::now();
                Clock {
                    started,
                    deadline: started + time_limit,
                    steps: 0,
                    may_defer,
                    deferred: false,
                }
            })),
        }
    }

    /// Whether this render stopped at [`LONG_RENDER`] to run again through the hook.
    pub(crate) fn deferred(&self) -> bool {
        CLOCK.get().is_some_and(|clock| clock.deferred)
    }

    /// Whether this render broke a limit (as opposed to an ordinary mistake).
    pub(crate) fn breached(&self) -> bool {
        BREACHED.get()
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        MEMORY_BASE.set(self.previous);
        CLOCK.set(self.clock);
    }
}

fn breach(kind: Breach) -> Error {
    kind.note().error()
}

/// Applies the limits to an environment.
pub(crate) fn install(env: &mut Environment<'static>) {
    env.set_recursion_limit(RECURSION);
    env.set_step_check(Some(Arc::new(step_check)));
    env.add_function("range", range);
    env.add_filter("replace", replace);
    env.add_filter("indent", indent);
    env.add_filter("tojson", tojson);
    env.add_filter("format", format);
}

/// Run by minijinja before every instruction; `created` says the value on top
/// of the stack was just made by the previous instruction.
fn step_check(top: Option<&Value>, created: bool) -> Result<(), Error> {
    if let Some(base) = MEMORY_BASE.get() {
        if hookflow_alloc::thread_net() - base > MAX_MEMORY {
            return Err(breach(Breach::Memory));
        }
    }
    if let Some(mut clock) = CLOCK.get() {
        clock.steps += 1;
        if clock.steps >= CLOCK_EVERY {
            clock.steps = 0;
            let now = std::time::Instant::now();
            if now > clock.deadline {
                return Err(breach(Breach::Time));
            }
            if clock.may_defer && now - clock.started > LONG_RENDER {
                clock.deferred = true;
                CLOCK.set(Some(clock));
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "the render runs again elsewhere",
                ));
            }
        }
        CLOCK.set(Some(clock));
    }
    match top {
        Some(value) if created => check_value(value).map_err(breach),
        _ => Ok(()),
    }
}

/// Measures a value a template made: its strings, depth, items and text.
pub(crate) fn check_value(value: &Value) -> Result<(), Breach> {
    let mut tally = Tally::default();
    tally.visit(value, 0)
}

#[derive(Default)]
struct Tally {
    items: usize,
    bytes: usize,
}

impl Tally {
    fn visit(&mut self, value: &Value, depth: usize) -> Result<(), Breach> {
        match value.kind() {
            ValueKind::String | ValueKind::Bytes => {
                let len = value
                    .as_str()
                    .map_or_else(|| value.as_bytes().map_or(0, <[u8]>::len), str::len);
                if len > MAX_STRING {
                    return Err(Breach::String);
                }
                self.bytes += len;
                if self.bytes > MAX_VALUE_BYTES {
                    return Err(Breach::Bytes);
                }
                Ok(())
            }
            ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => self.visit_container(value, depth),
            _ => Ok(()),
        }
    }

    fn visit_container(&mut self, value: &Value, depth: usize) -> Result<(), Breach> {
        // The event is bounded at ingest; ranges are bounded by `range`.
        if value.downcast_object_ref::<Tracked>().is_some() || value.downcast_object_ref::<Range>().is_some() {
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            return Err(Breach::Depth);
        }
        let Ok(items) = value.try_iter() else { return Ok(()) };
        let is_map = value.kind() == ValueKind::Map;
        for item in items {
            self.items += 1;
            if self.items > MAX_ITEMS {
                return Err(Breach::Items);
            }
            if is_map {
                self.visit(&item, depth + 1)?;
                let child = value.get_item(&item).unwrap_or_default();
                self.visit(&child, depth + 1)?;
            } else {
                self.visit(&item, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// Most numbers `range` yields, as in minijinja.
const MAX_RANGE: usize = 100_000;

/// `range(stop)`, `range(start, stop)`, `range(start, stop, step)`: minijinja's
/// `range` as a type of its own, so that measuring a value does not walk it.
#[derive(Debug)]
struct Range {
    start: i64,
    step: i64,
    len: usize,
}

fn range(lower: i64, upper: Option<i64>, step: Option<i64>) -> Result<Value, Error> {
    let (start, stop) = match upper {
        Some(upper) => (lower, upper),
        None => (0, lower),
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "cannot create range with step of 0",
        ));
    }
    let span = if step > 0 {
        stop.saturating_sub(start)
    } else {
        start.saturating_sub(stop)
    };
    let len = if span <= 0 {
        0
    } else {
        (span.unsigned_abs() - 1) / step.unsigned_abs() + 1
    };
    if len > MAX_RANGE as u64 {
        return Err(Error::new(ErrorKind::InvalidOperation, "range has too many elements"));
    }
    Ok(Value::from_object(Range {
        start,
        step,
        len: len as usize,
    }))
}

impl Object for Range {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Iterable
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let (start, step) = (self.start, self.step);
        Enumerator::Iter(Box::new(
            (0..self.len as i64).map(move |i| Value::from(start + i * step)),
        ))
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.len)
    }
}

/// `replace`, refusing a result longer than [`MAX_STRING`] before building it.
fn replace(value: &Value, from: &Value, to: &Value) -> Result<Value, Error> {
    let (value, from, to) = (string_input(value), string_input(from), string_input(to));
    let (value, from, to) = (value.as_ref(), from.as_ref(), to.as_ref());
    let count = if from.is_empty() {
        value.chars().count() + 1
    } else {
        value.matches(from).count()
    };
    // Each match of `from` becomes `to`: the result's length, before building it.
    let removed = count.saturating_mul(from.len());
    let result = (value.len() - removed.min(value.len())).saturating_add(count.saturating_mul(to.len()));
    if result > MAX_STRING {
        return Err(breach(Breach::String));
    }
    Ok(Value::from(value.replace(from, to)))
}

/// A filter argument as text, the way minijinja's string arguments take it
/// (undefined as nothing, other values as they print).
fn string_input(value: &Value) -> std::borrow::Cow<'_, str> {
    match value.as_str() {
        Some(text) => text.into(),
        None if value.is_undefined() => "".into(),
        None => value.to_string().into(),
    }
}

/// `indent(width, first, blank)`, with the width and the result bounded.
fn indent(state: &State, value: &Value, rest: Rest<Value>) -> Result<Value, Error> {
    let width = match rest.first() {
        Some(w) if w.kind() == ValueKind::Number => w.as_usize(),
        _ => kwarg(&rest, "width").and_then(|w| w.as_usize()),
    }
    .unwrap_or(4);
    let text = value.as_str().unwrap_or_default();
    let lines = text.matches('\n').count() + 1;
    if width > MAX_INDENT || text.len().saturating_add(lines.saturating_mul(width)) > MAX_STRING {
        return Err(breach(Breach::String));
    }
    builtin(state, Value::from_function(minijinja::filters::indent), value, &rest)
}

/// `tojson(indent)`, with the indent bounded.
fn tojson(state: &State, value: &Value, rest: Rest<Value>) -> Result<Value, Error> {
    let indent = match rest.first() {
        Some(w) if w.kind() == ValueKind::Number => w.as_usize(),
        _ => kwarg(&rest, "indent").and_then(|w| w.as_usize()),
    };
    if indent.is_some_and(|w| w > MAX_INDENT) {
        return Err(breach(Breach::String));
    }
    builtin(state, Value::from_function(minijinja::filters::tojson), value, &rest)
}

/// `format(args...)`, refusing field widths and precisions over four digits
/// (`"%1000000000s"`), which would build the padding first.
fn format(state: &State, value: &Value, rest: Rest<Value>) -> Result<Value, Error> {
    let spec = value.as_str().unwrap_or_default();
    let mut run = 0;
    for c in spec.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run > 4 {
            return Err(breach(Breach::String));
        }
    }
    builtin(state, Value::from_function(minijinja::filters::format), value, &rest)
}

/// A keyword argument of a filter call (the keyword arguments come last).
fn kwarg(rest: &[Value], name: &str) -> Option<Value> {
    let kwargs = rest.last().and_then(|v| Kwargs::try_from(v.clone()).ok())?;
    kwargs.peek::<Option<Value>>(name).ok().flatten()
}

/// Calls minijinja's own filter, after the checks above.
fn builtin(state: &State, filter: Value, value: &Value, rest: &[Value]) -> Result<Value, Error> {
    let mut args = Vec::with_capacity(rest.len() + 1);
    args.push(value.clone());
    args.extend(rest.iter().cloned());
    filter.call(state, &args)
}
