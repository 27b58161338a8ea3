//! The durable job queue: claim under a lease, heartbeat, settle, reclaim.
//!
//! A job is claimed by flipping it from `queued` to `running` with an owner
//! and a lease deadline in one statement; on PostgreSQL the candidate rows are
//! locked with `FOR UPDATE SKIP LOCKED`, so concurrent nodes never claim the
//! same job and never wait on each other. Every settle names the owner, so a
//! worker whose lease expired (and whose job was reclaimed) changes nothing.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use hookflow_core::{JobId, JobKind, JobState, Timestamp, WorkspaceId};
use hookflow_engine::store::{Job, JobRow, Queue, StoreResult};
use sqlx::AnyConnection;

use crate::db::{col, col_parsed, db_error, placeholders, Val};
use crate::op::{Done, Op};
use crate::rows::JOB_COLUMNS;
use crate::{rows, Dialect, SqlStore};

/// `query` with each of `values` bound in turn, for an `IN (…)` list.
fn bind_all<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: &[&'q str],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    values.iter().fold(query, |query, value| query.bind(*value))
}

pub(crate) async fn insert_job(
    tx: &mut AnyConnection,
    kind: JobKind,
    ws: &WorkspaceId,
    target: &str,
    run_at: Timestamp,
) -> StoreResult<JobId> {
    insert_job_in_group(tx, kind, ws, target, run_at, None).await
}

/// A job whose group (a subscription) runs at most [`GROUP_CAP`] at once.
pub(crate) async fn insert_job_in_group(
    tx: &mut AnyConnection,
    kind: JobKind,
    ws: &WorkspaceId,
    target: &str,
    run_at: Timestamp,
    group: Option<&str>,
) -> StoreResult<JobId> {
    let id = JobId::new();
    let row = job_row(&id, kind, ws, target, run_at, group);
    crate::db::insert_rows(tx, "jobs", &JOB_INSERT_COLUMNS, &[row]).await?;
    Ok(id)
}

/// The columns a new job is written with; see [`job_row`].
pub(crate) const JOB_INSERT_COLUMNS: [&str; 10] = [
    "id",
    "kind",
    "workspace_id",
    "target_id",
    "state",
    "run_at",
    "attempts",
    "created_at",
    "updated_at",
    "group_key",
];

/// A new queued job, due at `run_at`, as a row of [`JOB_INSERT_COLUMNS`].
pub(crate) fn job_row<'a>(
    id: &'a JobId,
    kind: JobKind,
    ws: &'a WorkspaceId,
    target: &'a str,
    run_at: Timestamp,
    group: Option<&'a str>,
) -> Vec<Val<'a>> {
    let now = Timestamp::now().as_millis();
    vec![
        Val::Text(id.as_str()),
        Val::Text(kind.as_str()),
        Val::Text(ws.as_str()),
        Val::Text(target),
        Val::Text("queued"),
        Val::Int(run_at.as_millis()),
        Val::Int(0),
        Val::Int(now),
        Val::Int(now),
        Val::OptText(group),
    ]
}

/// Moves a running job that `worker` holds to `state`, on `conn` (a transaction's, to settle the
/// job together with what its run wrote). Answers whether the worker still held it.
pub(crate) async fn settle_on(
    conn: &mut AnyConnection,
    job: &JobId,
    worker: &str,
    state: JobState,
    run_at: Option<Timestamp>,
    error: Option<&str>,
    uncount: bool,
) -> StoreResult<bool> {
    let now = Timestamp::now();
    let attempts = if uncount { "attempts - 1" } else { "attempts" };
    // Without a new due time, run_at stays as it is: no read of the row first.
    let run_at_set = if run_at.is_some() { "run_at = $6, " } else { "" };
    let sql = format!(
        "UPDATE jobs SET state = $1, {run_at_set}last_error = $2, attempts = {attempts}, lease_owner = NULL, \
         lease_until = NULL, updated_at = $3 WHERE id = $4 AND state = 'running' AND lease_owner = $5"
    );
    let mut query = sqlx::query(&sql)
        .bind(state.as_str())
        .bind(error.unwrap_or(""))
        .bind(now.as_millis())
        .bind(job.as_str())
        .bind(worker);
    if let Some(at) = run_at {
        query = query.bind(at.as_millis());
    }
    let changed = query.execute(&mut *conn).await.map_err(db_error)?;
    Ok(changed.rows_affected() == 1)
}

/// The condition of the partial index `jobs_due`, repeated in every query that should use it on
/// SQLite: SQLite uses a partial index only when the query names its condition, and does not infer
/// it from `state = 'queued'`; without it, each claim and reclaim read the whole table, done jobs
/// included. PostgreSQL infers it, and is better off without a redundant `= ANY` on the index.
fn active(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "state IN ('queued', 'running')",
        Dialect::Postgres => "TRUE",
    }
}

/// The PostgreSQL channel on which a commit that queued due work wakes every node.
pub(crate) const WORK_CHANNEL: &str = "hookflow_work";

/// Tells every node, when the transaction commits, that work is due
/// (PostgreSQL; repeated notifications in one transaction are sent once).
pub(crate) async fn announce_work(tx: &mut AnyConnection, dialect: Dialect) -> StoreResult<()> {
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(WORK_CHANNEL)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// The most jobs of one group (one subscription's deliveries) that run at once,
/// so a slow or failing subscriber never takes every worker.
pub const GROUP_CAP: i64 = 4;

/// The claim of up to `$4` jobs of `kinds` (`$5`, …) due by `$3` for worker `$1` with a lease of
/// `$2` ms, answering the claimed jobs.
fn claim_sql(dialect: Dialect, kinds: &[JobKind]) -> String {
    let lock = match dialect {
        Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    // Grouped jobs: the n-th queued job of a group is a candidate only while
    // n plus the group's running jobs stays within the cap. The locking level
    // repeats `state = 'queued'`: PostgreSQL re-checks only that level's
    // conditions on a row another claimer changed, so without it a job
    // claimed meanwhile would be claimed twice.
    let kind_list = placeholders(5, kinds.len());
    let db_now = dialect.now_millis();
    let active = active(dialect);
    // Deliveries of one subscription run at most GROUP_CAP at once. Execution
    // claims read the due jobs straight off the (state, run_at) index (a
    // self-join there made PostgreSQL's cached generic plan quadratic in the
    // backlog); only an ordered execution looks up its group's earlier jobs.
    // The claims order by run_at alone, the index's order, so they stop after
    // `$4` rows: ordering by (run_at, id) made PostgreSQL sort every due job
    // (a backlog of 400,000 took a second per claim). Ties are claimed in any
    // order; an ordering group's order comes from its NOT EXISTS, by id.
    let pick = if kinds.contains(&JobKind::Delivery) {
        format!(
            "SELECT id FROM jobs WHERE state = 'queued' AND {active} AND run_at <= $3 AND id IN (\
             SELECT id FROM (SELECT id, run_at, group_key, ROW_NUMBER() OVER (PARTITION BY COALESCE(group_key, id) \
             ORDER BY run_at, id) AS n FROM jobs WHERE state = 'queued' AND {active} AND run_at <= $3 \
             AND kind IN ({kind_list})) c \
             WHERE c.group_key IS NULL OR c.n + (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' \
             AND r.group_key = c.group_key) <= {GROUP_CAP}) \
             ORDER BY run_at LIMIT $4 {lock}"
        )
    } else {
        // An execution of an ordering group waits while an earlier one of its group (by id,
        // which is arrival order) is queued or running, a delayed or retrying one included.
        format!(
            "SELECT id FROM jobs j WHERE state = 'queued' AND {active} AND run_at <= $3 AND kind IN ({kind_list}) \
             AND (group_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs p WHERE p.group_key = j.group_key \
             AND p.state IN ('queued', 'running') AND p.id < j.id)) \
             ORDER BY run_at LIMIT $4 {lock}"
        )
    };
    // The lease runs from the database's clock at the moment of the claim.
    format!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = {db_now} + $2, \
         attempts = attempts + 1, updated_at = $3 WHERE id IN ({pick}) RETURNING {JOB_COLUMNS}"
    )
}

/// Expired leases back to the queue; `$1` is the time of the change.
fn reclaim_sql(dialect: Dialect) -> String {
    let active = active(dialect);
    format!(
        "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, reclaims = reclaims + 1, \
         last_error = 'lease expired: the worker stopped answering', updated_at = $1 \
         WHERE state = 'running' AND {active} AND lease_until < {}",
        dialect.now_millis()
    )
}

impl SqlStore {
    /// Claims up to `limit` due jobs of `kinds` for `worker`, in due order.
    pub(crate) async fn claim_on(
        &self,
        tx: &mut AnyConnection,
        kinds: &[JobKind],
        worker: &str,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<Job>> {
        let now = Timestamp::now();
        let sql = claim_sql(self.dialect, kinds);
        let mut query = sqlx::query(&sql)
            .bind(worker)
            .bind(lease.as_millis() as i64)
            .bind(now.as_millis())
            .bind(i64::from(limit));
        for kind in kinds {
            query = query.bind(kind.as_str());
        }
        let claimed = query.fetch_all(&mut *tx).await.map_err(db_error)?;
        let mut jobs = claimed.iter().map(rows::job).collect::<StoreResult<Vec<_>>>()?;
        // The claimed executions show as running from now on, in the same commit.
        let executions: Vec<&str> = jobs
            .iter()
            .filter(|j| j.kind == JobKind::Execution)
            .map(|j| j.target_id.as_str())
            .collect();
        let mut started = HashSet::new();
        if !executions.is_empty() {
            // An execution that never started has no journal: its run need not read one.
            let sql = format!(
                "SELECT id FROM executions WHERE started_at IS NOT NULL AND id IN ({})",
                placeholders(1, executions.len())
            );
            started = bind_all(sqlx::query(&sql), &executions)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| col::<String>(r, "id"))
                .collect::<StoreResult<_>>()?;
            let sql = format!(
                "UPDATE executions SET status = 'running', started_at = COALESCE(started_at, $1) \
                 WHERE finished_at IS NULL AND id IN ({})",
                placeholders(2, executions.len())
            );
            bind_all(sqlx::query(&sql).bind(now.as_millis()), &executions)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            let sql = format!(
                "UPDATE events SET status = 'running' WHERE status IN ('received', 'waiting') \
                 AND execution_id IN ({})",
                placeholders(1, executions.len())
            );
            bind_all(sqlx::query(&sql), &executions)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        for job in jobs.iter_mut().filter(|j| j.kind == JobKind::Execution) {
            job.fresh = !started.contains(&job.target_id);
        }
        jobs.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        Ok(jobs)
    }

    /// Moves a running job that `worker` holds to `state`.
    /// `uncount` takes back the attempt (a release is not a try).
    pub(crate) async fn settle(
        &self,
        job: &JobId,
        worker: &str,
        state: JobState,
        run_at: Option<Timestamp>,
        error: Option<&str>,
        uncount: bool,
    ) -> StoreResult<bool> {
        let op = Op::Settle {
            job: job.clone(),
            worker: worker.to_owned(),
            state,
            run_at,
            error: error.map(str::to_owned),
            uncount,
        };
        self.submit(op).await.map(Done::held)
    }

    pub(crate) async fn job_where(&self, column: &str, value: &str) -> StoreResult<Option<JobRow>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {column} = $1 ORDER BY id DESC LIMIT 1");
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::job_row).transpose()
    }
}

#[async_trait]
impl Queue for SqlStore {
    async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    async fn enqueue_job(
        &self,
        kind: JobKind,
        ws: &WorkspaceId,
        target: &str,
        run_at: Timestamp,
    ) -> StoreResult<JobId> {
        let mut tx = self.begin().await?;
        let id = insert_job(&mut tx, kind, ws, target, run_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(id)
    }

    async fn claim_jobs(&self, kinds: &[JobKind], worker: &str, limit: u32, lease: Duration) -> StoreResult<Vec<Job>> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let op = Op::Claim {
            kinds: kinds.to_vec(),
            worker: worker.to_owned(),
            limit,
            lease,
        };
        self.submit(op).await.map(Done::jobs)
    }

    async fn heartbeat(&self, jobs: &[JobId], worker: &str, lease: Duration) -> StoreResult<Vec<JobId>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE jobs SET lease_until = {} + $1 WHERE state = 'running' AND lease_owner = $2 AND id IN ({}) \
             RETURNING id",
            self.dialect.now_millis(),
            placeholders(3, jobs.len())
        );
        let mut query = sqlx::query(&sql).bind(lease.as_millis() as i64).bind(worker);
        for job in jobs {
            query = query.bind(job.as_str());
        }
        let kept = query.fetch_all(&self.write).await.map_err(db_error)?;
        let kept: HashSet<String> = kept
            .iter()
            .map(|r| col::<String>(r, "id"))
            .collect::<StoreResult<_>>()?;
        Ok(jobs.iter().filter(|j| !kept.contains(j.as_str())).cloned().collect())
    }

    async fn complete_job(&self, job: &JobId, worker: &str) -> StoreResult<bool> {
        self.settle(job, worker, JobState::Done, None, None, false).await
    }

    async fn retry_job(&self, job: &JobId, worker: &str, run_at: Timestamp, error: &str) -> StoreResult<bool> {
        self.settle(job, worker, JobState::Queued, Some(run_at), Some(error), false)
            .await
    }

    async fn kill_job(&self, job: &JobId, worker: &str, error: &str) -> StoreResult<bool> {
        self.settle(job, worker, JobState::Dead, None, Some(error), false).await
    }

    async fn release_job(&self, job: &JobId, worker: &str) -> StoreResult<bool> {
        self.settle(job, worker, JobState::Queued, Some(Timestamp::now()), None, true)
            .await
    }

    async fn reclaim_expired(&self) -> StoreResult<u64> {
        let now = Timestamp::now().as_millis();
        let sql = reclaim_sql(self.dialect);
        let done = sqlx::query(&sql)
            .bind(now)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn get_job(&self, job: &JobId) -> StoreResult<Option<JobRow>> {
        self.job_where("id", job.as_str()).await
    }

    async fn queue_stats(&self) -> StoreResult<Vec<hookflow_engine::store::QueueStat>> {
        let rows = sqlx::query(
            "SELECT kind, state, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs WHERE state IN ('queued', 'running') \
             GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(hookflow_engine::store::QueueStat {
                    kind: col_parsed(r, "kind")?,
                    state: col_parsed(r, "state")?,
                    count: col(r, "n")?,
                    oldest_run_at: col::<Option<i64>>(r, "oldest")?.map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    async fn job_for_target(&self, target: &str) -> StoreResult<Option<JobRow>> {
        self.job_where("target_id", target).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, StoreOptions};

    /// What SQLite plans for `sql`, one step per line.
    async fn plan(pool: &sqlx::AnyPool, sql: &str, binds: usize) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(&explain);
        for _ in 0..binds {
            query = query.bind("x");
        }
        let rows = query.fetch_all(pool).await.unwrap();
        rows.iter()
            .map(|r| col::<String>(r, "detail").unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SQLite uses the partial index `jobs_due` only when a query repeats its condition; without
    /// it every claim and reclaim read the whole table. Each must search the index and scan no
    /// `jobs` table.
    #[tokio::test]
    async fn claims_and_reclaims_search_the_due_index_on_sqlite() {
        let dir = std::env::temp_dir().join(format!("hookflow-plan-{}", JobId::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let backend = Backend::Sqlite(dir.join("plan.db").to_string_lossy().into_owned());
        let (write, _read, dialect) = crate::open(&StoreOptions::new(backend)).await.unwrap();
        let cases = [
            ("execution claim", claim_sql(dialect, &[JobKind::Execution]), 5),
            ("delivery claim", claim_sql(dialect, &[JobKind::Delivery]), 5),
            ("reclaim", reclaim_sql(dialect), 1),
        ];
        for (what, sql, binds) in cases {
            let plan = plan(&write, &sql, binds).await;
            assert!(
                plan.contains("USING INDEX jobs_due"),
                "{what} does not use jobs_due:\n{plan}"
            );
            let scans: Vec<&str> = plan
                .lines()
                .filter(|l| ["SCAN jobs", "SCAN j", "SCAN p", "SCAN r"].contains(&l.trim()))
                .collect();
            assert!(scans.is_empty(), "{what} reads the whole jobs table:\n{plan}");
        }
        write.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
