//! The worker loop: claims due jobs under a lease, runs them with a bounded
//! concurrency, keeps their leases alive, and hands them back on shutdown.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hookflow_core::{JobId, JobKind, Timestamp};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::store::{Job, Queue};

/// What became of one run of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    /// The handler settled the job itself, in one transaction with what the run wrote last.
    Settled,
    /// Try again at the given time; the reason is stored on the job.
    Retry {
        at: Timestamp,
        reason: String,
    },
    /// Give up; the reason is stored on the job.
    GiveUp {
        reason: String,
    },
    /// Not a failure: run again at the given time (a delay).
    Later {
        at: Timestamp,
    },
}

/// Runs jobs of some kinds.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    fn kinds(&self) -> &[JobKind];
    async fn run(&self, job: &Job) -> JobOutcome;
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this node's leases; unique per process.
    pub worker_id: String,
    pub concurrency: usize,
    pub lease: Duration,
    /// How long an idle worker waits before looking again without a wake-up.
    pub poll_interval: Duration,
    /// How long shutdown waits for running jobs before releasing them.
    pub grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            worker_id: format!("w-{}", hookflow_core::id::new_id_body()),
            concurrency: 16,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            grace: Duration::from_secs(10),
        }
    }
}

/// Runs until `shutdown` resolves, then finishes or releases what it holds.
pub async fn run(
    store: Arc<dyn Queue>,
    handler: Arc<dyn JobHandler>,
    config: WorkerConfig,
    wake: Arc<Notify>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let held: Arc<Mutex<HashSet<JobId>>> = Arc::default();
    let mut tasks = JoinSet::new();
    let heartbeat = tokio::spawn(heartbeat(store.clone(), held.clone(), config.clone()));
    tokio::pin!(shutdown);
    let mut last_reclaim = Timestamp::from_millis(0);

    loop {
        while tasks.try_join_next().is_some() {}
        let now = Timestamp::now();
        if now.as_millis() - last_reclaim.as_millis() > 1_000 {
            last_reclaim = now;
            match store.reclaim_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(jobs = n, "Reclaimed jobs whose lease expired."),
                Err(error) => tracing::warn!(%error, "Reclaiming expired leases failed."),
            }
        }
        let free = slots.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            match store
                .claim_jobs(handler.kinds(), &config.worker_id, free as u32, config.lease)
                .await
            {
                Ok(jobs) => jobs,
                Err(error) => {
                    tracing::warn!(%error, "Claiming jobs failed.");
                    Vec::new()
                }
            }
        };
        let idle = claimed.is_empty();
        for job in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            held.lock().expect("lock poisoned").insert(job.id.clone());
            let (store, handler, held, worker, wake) = (
                store.clone(),
                handler.clone(),
                held.clone(),
                config.worker_id.clone(),
                wake.clone(),
            );
            tasks.spawn(async move {
                run_one(&*store, &*handler, &job, &worker).await;
                held.lock().expect("lock poisoned").remove(&job.id);
                drop(permit);
                // The next job of its group (an ordering key, a subscription) may be free now.
                if job.group_key.is_some() {
                    wake.notify_one();
                }
            });
        }
        if !idle && slots.available_permits() > 0 {
            continue;
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll_interval) => {}
            // A slot freed up: look for more work.
            Some(_) = tasks.join_next(), if !tasks.is_empty() && slots.available_permits() == 0 => {}
        }
    }

    // Shutdown: let running jobs finish within the grace period, then release the rest.
    let drained = tokio::time::timeout(config.grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tasks.abort_all();
        let leftover: Vec<JobId> = held.lock().expect("lock poisoned").drain().collect();
        for job in leftover {
            if let Err(error) = store.release_job(&job, &config.worker_id).await {
                tracing::warn!(%job, %error, "Releasing a job at shutdown failed; its lease will expire.");
            }
        }
    }
    heartbeat.abort();
}

async fn run_one(store: &dyn Queue, handler: &dyn JobHandler, job: &Job, worker: &str) {
    use tracing::Instrument;
    // Every line logged while the job runs names it and what it runs (an execution or a delivery).
    let span =
        tracing::info_span!("job", job_id = %job.id, kind = %job.kind, target = %job.target_id, attempt = job.attempts);
    let outcome = handler.run(job).instrument(span).await;
    let result = match &outcome {
        JobOutcome::Settled => return,
        JobOutcome::Done => store.complete_job(&job.id, worker).await,
        JobOutcome::Retry { at, reason } => store.retry_job(&job.id, worker, *at, reason).await,
        JobOutcome::GiveUp { reason } => store.kill_job(&job.id, worker, reason).await,
        JobOutcome::Later { at } => store.retry_job(&job.id, worker, *at, "").await,
    };
    match result {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job_id = %job.id, "Job finished after its lease was lost."),
        Err(error) => {
            tracing::warn!(job_id = %job.id, %error, "Recording a job's outcome failed; it will run again.")
        }
    }
}

async fn heartbeat(store: Arc<dyn Queue>, held: Arc<Mutex<HashSet<JobId>>>, config: WorkerConfig) {
    let every = config.lease / 3;
    let mut wait = every;
    loop {
        tokio::time::sleep(wait).await;
        wait = every;
        let jobs: Vec<JobId> = held.lock().expect("lock poisoned").iter().cloned().collect();
        if jobs.is_empty() {
            continue;
        }
        match store.heartbeat(&jobs, &config.worker_id, config.lease).await {
            Ok(lost) => {
                // A job that ended while the heartbeat waited for the database was not lost.
                let held = held.lock().expect("lock poisoned");
                let lost = lost.iter().filter(|job| held.contains(*job)).count();
                if lost > 0 {
                    tracing::warn!(jobs = lost, "Lost the lease of running jobs.");
                }
            }
            // Try again soon: two missed beats in a row would let the leases run out.
            Err(error) => {
                tracing::warn!(%error, "Extending leases failed.");
                wait = every / 4;
            }
        }
    }
}
