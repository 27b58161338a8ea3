//! The durable job queue: workers claim, hold and settle jobs under leases.

use std::time::Duration;

use async_trait::async_trait;
use hookflow_core::{JobId, JobKind, JobState, Timestamp, WorkspaceId};

use super::StoreResult;

/// A claimed job: the caller holds its lease until `lease_until`.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
    pub workspace_id: WorkspaceId,
    /// The execution or delivery this job stands for.
    pub target_id: String,
    pub attempts: i64,
    pub run_at: Timestamp,
    pub lease_until: Timestamp,
    /// The worker holding the lease.
    pub worker: String,
    /// A subscription's deliveries or an ordering group; finishing one may free the next.
    pub group_key: Option<String>,
    /// How many times the job's lease expired while a node ran it (crash-loop protection).
    pub reclaims: i64,
    /// An execution never claimed before this claim: it has no journal to read.
    pub fresh: bool,
}

/// A job as the queue holds it, for tests and the operator.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: JobId,
    pub kind: JobKind,
    pub target_id: String,
    pub state: JobState,
    pub attempts: i64,
    pub run_at: Timestamp,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub reclaims: i64,
}

/// Jobs of one kind in one state, for metrics.
#[derive(Debug, Clone)]
pub struct QueueStat {
    pub kind: JobKind,
    pub state: JobState,
    pub count: i64,
    /// The earliest `run_at` among them.
    pub oldest_run_at: Option<Timestamp>,
}

/// The durable job queue: workers claim, hold and settle jobs under leases.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// True when the database answers.
    async fn ping(&self) -> bool;

    /// Adds a job due at `run_at`.
    async fn enqueue_job(
        &self,
        kind: JobKind,
        ws: &WorkspaceId,
        target_id: &str,
        run_at: Timestamp,
    ) -> StoreResult<JobId>;
    /// Leases up to `limit` due jobs of the given kinds to `worker` for `lease`.
    async fn claim_jobs(&self, kinds: &[JobKind], worker: &str, limit: u32, lease: Duration) -> StoreResult<Vec<Job>>;
    /// Extends the leases `worker` still holds; answers the ids it no longer holds.
    async fn heartbeat(&self, jobs: &[JobId], worker: &str, lease: Duration) -> StoreResult<Vec<JobId>>;
    /// Marks a job done; false when `worker` no longer held its lease.
    async fn complete_job(&self, job: &JobId, worker: &str) -> StoreResult<bool>;
    /// Puts a job back in the queue, due at `run_at`, with the error that made it fail.
    async fn retry_job(&self, job: &JobId, worker: &str, run_at: Timestamp, error: &str) -> StoreResult<bool>;
    /// Gives a job up for good.
    async fn kill_job(&self, job: &JobId, worker: &str, error: &str) -> StoreResult<bool>;
    /// Hands a job back, due now, without counting the attempt (graceful shutdown).
    async fn release_job(&self, job: &JobId, worker: &str) -> StoreResult<bool>;
    /// Puts every job whose lease has expired back in the queue; answers how many.
    async fn reclaim_expired(&self) -> StoreResult<u64>;
    async fn get_job(&self, job: &JobId) -> StoreResult<Option<JobRow>>;
    /// Counts of queued and running jobs by kind (done and dead jobs are not counted).
    async fn queue_stats(&self) -> StoreResult<Vec<QueueStat>>;
    /// The job of an execution, if any.
    async fn job_for_target(&self, target_id: &str) -> StoreResult<Option<JobRow>>;
}
