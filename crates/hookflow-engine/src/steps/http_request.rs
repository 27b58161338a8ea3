//! `http_request`: sends an HTTP request and reads the answer into its output.

use super::kind::{Source, StepKind};
use super::{action, StepErrors};
pub(crate) use crate::actions::HttpRequest;
use crate::outbound::Action;
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

impl StepKind for HttpRequest {
    const TYPES: &'static [&'static str] = &["http_request"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        crate::actions::compile_http_request(source.obj, e.path, source.templates, e.errors)
    }

    async fn run(
        &self,
        run: &mut Run<'_>,
        live: Live<'_>,
        here: Here<'_>,
        rec: StepRecord,
    ) -> Result<Flow, StoreError> {
        action::send(run, live, Action::Http(self), here, rec).await
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        action::simulate(run, Action::Http(self), here, rec).await
    }
}
