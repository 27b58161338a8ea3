//! Group commit of the store's hot writes.
//!
//! Ingest batches, journal entries, execution ends and suspensions, job
//! settlements and claims are described as [`Op`]s. On PostgreSQL each runs in
//! a transaction of its own: many connections commit side by side. SQLite has
//! one writer, and a commit there waits for an fsync; so one task takes every
//! op waiting at that moment and runs them all in one transaction; should one
//! fail, the batch is rolled back and its ops run again one transaction each,
//! so a failing op takes back only its own changes. Nobody hears
//! back before that transaction has committed: an op's answer means its
//! changes are durable, exactly as with a transaction of its own.

use hookflow_engine::store::StoreResult;
use hookflow_engine::StoreError;
use sqlx::{AnyConnection, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::db::db_error;
use crate::op::{Done, Op};
use crate::SqlStore;

/// The most ops committed together.
const MAX_BATCH: usize = 128;

/// The most batches committed back to back on one hold of the write connection; then it goes back
/// to the pool, where other writes (the API's, heartbeats, reclaims) wait their turn.
const BATCHES_PER_HOLD: usize = 8;

type Reply = oneshot::Sender<StoreResult<Done>>;

/// The SQLite store's handle on its group-commit task.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<(Op, Reply)>,
}

impl Writer {
    /// Starts the task; it writes through `store`, which must have no writer of its own.
    pub(crate) fn start(store: SqlStore) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(store, rx));
        Self { tx }
    }
}

impl SqlStore {
    /// Runs `op` and answers once it is durable: grouped with others on SQLite, alone on PostgreSQL.
    pub(crate) async fn submit(&self, op: Op) -> StoreResult<Done> {
        let stopped = || StoreError::unavailable("the store's writer has stopped");
        match &self.writer {
            Some(writer) => {
                let (reply, answer) = oneshot::channel();
                writer.tx.send((op, reply)).await.map_err(|_| stopped())?;
                answer.await.map_err(|_| stopped())?
            }
            None => {
                let mut tx = self.begin().await?;
                let done = self.apply(&mut tx, &op).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(done)
            }
        }
    }

    async fn apply(&self, conn: &mut AnyConnection, op: &Op) -> StoreResult<Done> {
        Ok(match op {
            Op::InsertEvents(events) => {
                self.insert_events_on(conn, events).await?;
                Done::Nothing
            }
            Op::RecordSteps(records) => {
                crate::journal::write_steps(conn, records).await?;
                Done::Nothing
            }
            Op::Finish {
                id,
                status,
                error,
                steps,
                job,
            } => {
                let job = job.as_ref().map(|(j, w)| (j, w.as_str()));
                Done::Held(self.finish_on(conn, id, *status, error.as_deref(), steps, job).await?)
            }
            Op::Suspend {
                id,
                steps,
                job,
                worker,
                at,
            } => Done::Held(self.suspend_on(conn, id, steps, (job, worker), *at).await?),
            Op::Settle {
                job,
                worker,
                state,
                run_at,
                error,
                uncount,
            } => Done::Held(
                crate::queue::settle_on(conn, job, worker, *state, *run_at, error.as_deref(), *uncount).await?,
            ),
            Op::Claim {
                kinds,
                worker,
                limit,
                lease,
            } => Done::Jobs(self.claim_on(conn, kinds, worker, *limit, *lease).await?),
        })
    }

    /// One transaction for the whole batch; answers after the commit. Should an op fail with an
    /// error of its own (a conflict, bad data), the batch is rolled back and every op runs again in
    /// a transaction of its own, so a failing op takes back only its own changes (such failures are
    /// rare; savepoints around every op would cost two statements each, every time). Should the
    /// database fail (no connection, a failed commit), every op of the batch hears so at once.
    async fn commit_batch(&self, conn: &mut AnyConnection, batch: Vec<(Op, Reply)>) {
        let (ops, replies): (Vec<Op>, Vec<Reply>) = batch.into_iter().unzip();
        let mut tx = match conn.begin().await.map_err(db_error) {
            Ok(tx) => tx,
            Err(e) => return fail_all(replies, &e),
        };
        let mut done = Vec::with_capacity(ops.len());
        let mut failed = None;
        for op in &ops {
            match self.apply(&mut tx, op).await {
                Ok(d) => done.push(d),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            None => match tx.commit().await.map_err(db_error) {
                Ok(()) => {
                    for (reply, done) in replies.into_iter().zip(done) {
                        let _ = reply.send(Ok(done));
                    }
                }
                Err(e) => fail_all(replies, &e),
            },
            Some(e @ StoreError::Unavailable { .. }) => fail_all(replies, &e),
            Some(e) if ops.len() == 1 => {
                let _ = replies.into_iter().next().map(|reply| reply.send(Err(e)));
            }
            Some(e) => {
                drop(tx);
                tracing::debug!(ops = ops.len(), error = %e, "An op failed in a group commit; the ops run one by one.");
                for (op, reply) in ops.into_iter().zip(replies) {
                    let alone: StoreResult<Done> = async {
                        let mut tx = conn.begin().await.map_err(db_error)?;
                        let done = self.apply(&mut tx, &op).await?;
                        tx.commit().await.map_err(db_error)?;
                        Ok(done)
                    }
                    .await;
                    let _ = reply.send(alone);
                }
            }
        }
    }
}

/// Nothing of the batch was kept: every op hears why.
fn fail_all(replies: Vec<Reply>, error: &StoreError) {
    let message = error.to_string();
    tracing::warn!(ops = replies.len(), error = %message, "A group commit failed.");
    for reply in replies {
        let _ = reply.send(Err(StoreError::unavailable(message.clone())));
    }
}

async fn run(store: SqlStore, mut rx: mpsc::Receiver<(Op, Reply)>) {
    let mut waiting = None;
    loop {
        let first = match waiting.take() {
            Some(op) => op,
            None => match rx.recv().await {
                Some(op) => op,
                None => return,
            },
        };
        // The connection is held while ops keep coming: no pool round trip between batches.
        let mut conn = match store.write.acquire().await.map_err(db_error) {
            Ok(conn) => conn,
            Err(e) => {
                let replies = gather(first, &mut rx).into_iter().map(|(_, reply)| reply).collect();
                fail_all(replies, &e);
                continue;
            }
        };
        let mut next = Some(first);
        for _ in 0..BATCHES_PER_HOLD {
            let Some(first) = next.take() else { break };
            store.commit_batch(&mut conn, gather(first, &mut rx)).await;
            next = rx.try_recv().ok();
        }
        // Back to the pool, where other writes may be waiting; then on with what is left.
        drop(conn);
        waiting = next;
    }
}

/// `first` and whatever else is waiting, up to [`MAX_BATCH`].
fn gather(first: (Op, Reply), rx: &mut mpsc::Receiver<(Op, Reply)>) -> Vec<(Op, Reply)> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    batch
}
