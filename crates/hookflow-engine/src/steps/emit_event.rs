//! `emit_event`: a `custom.<name>` event with a templated `data`, to the subscriptions that want
//! it. Live, the event commits with the step's entry, so it is emitted exactly once.

use hookflow_core::EventType;
use serde_json::{json, Value};

use super::kind::{Source, StepKind};
use super::{unknown_keys, StepErrors};
use crate::actions::Shape;
use crate::messages;
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

#[derive(Clone)]
pub(crate) struct EmitEvent {
    event_type: EventType,
    data: Shape,
}

impl StepKind for EmitEvent {
    const TYPES: &'static [&'static str] = &["emit_event"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        let obj = source.obj;
        unknown_keys(obj, &["event_type", "data"], e);
        let name = obj.get("event_type").and_then(Value::as_str).unwrap_or("");
        let event_type = EventType::custom(name)
            .map_err(|reason| e.at("event_type", reason))
            .ok();
        let data = Shape::compile(
            obj.get("data").unwrap_or(&Value::Null),
            &format!("{}.data", e.path),
            source.templates,
            e.errors,
        );
        event_type.map(|event_type| EmitEvent { event_type, data })
    }

    async fn run(
        &self,
        run: &mut Run<'_>,
        live: Live<'_>,
        here: Here<'_>,
        rec: StepRecord,
    ) -> Result<Flow, StoreError> {
        let (data, mut rec) = match self.data(run, here, rec) {
            Ok(data) => data,
            Err(flow) => return Ok(flow),
        };
        run.before_commit(&mut rec).await?;
        // The event and this entry commit together: emitted exactly once.
        let message = live
            .events
            .emit(
                &run.workspace,
                &messages::custom(self.event_type.clone(), live.connector, data),
                None,
                Some(&rec),
            )
            .await?;
        rec.output = json!({"message_id": message, "type": self.event_type});
        run.set_output(here.id, rec.output.clone());
        run.remember(rec);
        Ok(Flow::Continue)
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        let (data, mut rec) = match self.data(run, here, rec) {
            Ok(data) => data,
            Err(flow) => return Ok(flow),
        };
        run.side_effect(json!({"step": here.id, "emit": self.event_type, "data": data}));
        rec.output = json!({"message_id": null, "type": self.event_type});
        run.set_output(here.id, rec.output.clone());
        run.save(rec);
        Ok(Flow::Continue)
    }
}

impl EmitEvent {
    /// The rendered `data`; `Err` is the step failed.
    fn data(&self, run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord) -> Result<(Value, StepRecord), Flow> {
        let (mut missing, mut errors) = (Vec::new(), Vec::new());
        let data = self.data.render(run.templates, &run.ctx, &mut missing, &mut errors);
        rec.input = json!({"event_type": self.event_type, "data": data});
        rec.missing = missing;
        match errors.first() {
            Some(error) => Err(run.fail(here, rec, format!("a template failed: {error}"))),
            None => Ok((data, rec)),
        }
    }
}
