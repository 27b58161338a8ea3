//! Runs execution jobs.
//!
//! The foundation finishes an execution as soon as it is claimed; the step
//! engine replaces this with the run of the connector's steps.

use async_trait::async_trait;
use hookflow_core::{EventStatus, ExecutionId, JobKind, Timestamp};

use crate::store::{Job, Store};
use crate::worker::{JobHandler, JobOutcome};
use std::sync::Arc;

pub struct ExecutionHandler {
    store: Arc<dyn Store>,
}

impl ExecutionHandler {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl JobHandler for ExecutionHandler {
    fn kinds(&self) -> &[JobKind] {
        &[JobKind::Execution]
    }

    async fn run(&self, job: &Job) -> JobOutcome {
        let id = ExecutionId::from_trusted(job.target_id.clone());
        match self
            .store
            .finish_execution(&id, EventStatus::Succeeded, None)
            .await
        {
            Ok(()) => JobOutcome::Done,
            Err(e) => JobOutcome::Retry {
                at: Timestamp::now().plus_millis(1_000),
                reason: e.to_string(),
            },
        }
    }
}
