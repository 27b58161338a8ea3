//! The hot writes as values: what the writer (`writer.rs`) runs, grouped on SQLite, and what it
//! answers.

use std::time::Duration;

use hookflow_core::{EventStatus, ExecutionId, JobId, JobKind, JobState, Timestamp};
use hookflow_engine::store::{Job, NewEvent, StepRecord};

/// One write, owning what it writes.
pub(crate) enum Op {
    InsertEvents(Vec<NewEvent>),
    RecordSteps(Vec<StepRecord>),
    Finish {
        id: ExecutionId,
        status: EventStatus,
        error: Option<String>,
        steps: Vec<StepRecord>,
        job: Option<(JobId, String)>,
    },
    Suspend {
        id: ExecutionId,
        steps: Vec<StepRecord>,
        job: JobId,
        worker: String,
        at: Timestamp,
    },
    Settle {
        job: JobId,
        worker: String,
        state: JobState,
        run_at: Option<Timestamp>,
        error: Option<String>,
        uncount: bool,
    },
    Claim {
        kinds: Vec<JobKind>,
        worker: String,
        limit: u32,
        lease: Duration,
    },
}

/// What an op answers.
pub(crate) enum Done {
    Nothing,
    /// Whether the worker still held the job.
    Held(bool),
    Jobs(Vec<Job>),
}

impl Done {
    pub(crate) fn held(self) -> bool {
        matches!(self, Done::Held(true))
    }

    pub(crate) fn jobs(self) -> Vec<Job> {
        match self {
            Done::Jobs(jobs) => jobs,
            _ => Vec::new(),
        }
    }
}
