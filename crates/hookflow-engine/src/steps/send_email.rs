//! `send_email`: sends an email through an SMTP channel.

use super::kind::{Source, StepKind};
use super::{action, StepErrors};
pub(crate) use crate::actions::SendEmail;
use crate::outbound::Action;
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

impl StepKind for SendEmail {
    const TYPES: &'static [&'static str] = &["send_email"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        crate::actions::compile_send_email(source.obj, e.path, source.templates, e.errors)
    }

    async fn run(
        &self,
        run: &mut Run<'_>,
        live: Live<'_>,
        here: Here<'_>,
        rec: StepRecord,
    ) -> Result<Flow, StoreError> {
        action::send(run, live, Action::Email(self), here, rec).await
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        action::simulate(run, Action::Email(self), here, rec).await
    }
}
