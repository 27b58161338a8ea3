//! `send_message`: sends a message through a channel (WhatsApp Cloud, an SMS gateway, HTTP) to the contact or `to`.

use super::kind::{Source, StepKind};
use super::{action, StepErrors};
pub(crate) use crate::actions::SendMessage;
use crate::outbound::Action;
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

impl StepKind for SendMessage {
    const TYPES: &'static [&'static str] = &["send_message"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        crate::actions::compile_send_message(source.obj, e.path, source.templates, e.errors)
    }

    async fn run(
        &self,
        run: &mut Run<'_>,
        live: Live<'_>,
        here: Here<'_>,
        rec: StepRecord,
    ) -> Result<Flow, StoreError> {
        action::send(run, live, Action::Message(self), here, rec).await
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        action::simulate(run, Action::Message(self), here, rec).await
    }
}
