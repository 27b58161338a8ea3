//! What a kind of step is to the runner: how it compiles, runs and simulates.
//!
//! Each kind is one module of `steps/` implementing [`StepKind`], and one line of the
//! [`kinds!`](crate::steps) list that makes it a variant of [`Kind`](crate::steps::Kind). The
//! run's core ([`crate::run`]) walks the steps, keeps the journal and reuses finished entries;
//! a kind only does its step.

use std::future::Future;

use hookflow_expr::Templates;
use serde_json::{Map, Value};

use super::StepErrors;
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

/// A step as written, for a kind to compile.
pub(crate) struct Source<'a> {
    /// The whole step.
    pub value: &'a Value,
    pub obj: &'a Map<String, Value>,
    /// Its `type`, one of the kind's [`StepKind::TYPES`].
    pub type_name: &'a str,
    pub templates: &'a Templates,
}

/// One kind of step.
///
/// `run` and `simulate` get a fresh journal entry of the step (`rec`: its key, sequence and
/// attempt count set) to fill, and end by saving it through the run ([`Run::save`],
/// [`Run::save_now`], [`Run::fail`]); they are only called for a step that has no final entry
/// yet, unless the kind [re-enters](StepKind::REENTERS).
pub(crate) trait StepKind: Sized {
    /// The `type`s written for this kind (`add_tag` and `remove_tag` are one kind).
    const TYPES: &'static [&'static str];
    /// A final entry does not end it: it runs again on resumption, to resume the steps it holds
    /// (paths, whose decision it reads back with [`Run::reuse`]).
    const REENTERS: bool = false;

    /// Compiles a step of this kind; every mistake goes to `errors`, naming the field.
    fn compile(source: &Source<'_>, errors: &mut StepErrors<'_>) -> Option<Self>;

    /// Runs the step in a live run: its effects happen, and its entry is written as they do.
    fn run(
        &self,
        run: &mut Run<'_>,
        live: Live<'_>,
        here: Here<'_>,
        rec: StepRecord,
    ) -> impl Future<Output = Result<Flow, StoreError>> + Send;

    /// Runs the step in a simulation: nothing is written, and effects are recorded with
    /// [`Run::side_effect`] instead of done.
    fn simulate(
        &self,
        run: &mut Run<'_>,
        here: Here<'_>,
        rec: StepRecord,
    ) -> impl Future<Output = Result<Flow, StoreError>> + Send;
}

/// Declares the kinds of steps, one `Variant(module::Type)` each: the [`Kind`](crate::steps::Kind)
/// enum and its dispatch to each type's [`StepKind`] (static, so running a step allocates nothing).
macro_rules! kinds {
    ($($variant:ident($kind:ty)),* $(,)?) => {
        /// A compiled step's kind: one variant per module of `steps/`.
        #[derive(Clone)]
        pub(crate) enum Kind {
            $($variant(Box<$kind>),)*
        }

        impl Kind {
            /// Compiles a step of the type `source.type_name`; `None` when no kind has that type.
            pub(crate) fn compile(
                source: &$crate::steps::kind::Source<'_>,
                errors: &mut $crate::steps::StepErrors<'_>,
            ) -> Option<Option<Self>> {
                $(
                    if <$kind as $crate::steps::kind::StepKind>::TYPES.contains(&source.type_name) {
                        return Some(<$kind as $crate::steps::kind::StepKind>::compile(source, errors).map(|k| Kind::$variant(Box::new(k))));
                    }
                )*
                None
            }

            /// See [`StepKind::REENTERS`]($crate::steps::kind::StepKind::REENTERS).
            pub(crate) fn reenters(&self) -> bool {
                match self {
                    $(Kind::$variant(_) => <$kind as $crate::steps::kind::StepKind>::REENTERS,)*
                }
            }

            pub(crate) async fn run(
                &self,
                run: &mut $crate::run::Run<'_>,
                live: $crate::run::Live<'_>,
                here: $crate::run::Here<'_>,
                rec: $crate::store::StepRecord,
            ) -> Result<$crate::run::Flow, $crate::store::StoreError> {
                match self {
                    $(Kind::$variant(k) => $crate::steps::kind::StepKind::run(&**k, run, live, here, rec).await,)*
                }
            }

            pub(crate) async fn simulate(
                &self,
                run: &mut $crate::run::Run<'_>,
                here: $crate::run::Here<'_>,
                rec: $crate::store::StepRecord,
            ) -> Result<$crate::run::Flow, $crate::store::StoreError> {
                match self {
                    $(Kind::$variant(k) => $crate::steps::kind::StepKind::simulate(&**k, run, here, rec).await,)*
                }
            }
        }
    };
}

pub(crate) use kinds;
