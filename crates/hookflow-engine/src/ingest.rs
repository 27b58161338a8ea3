//! Group commit for ingest: concurrent requests are written in one
//! transaction, and each is answered only after that transaction commits.
//!
//! Invariant: `submit` never returns Ok before the event, its execution and
//! its job are durable.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use crate::store::{Ingest, NewEvent, StoreError};

/// The largest number of events written in one transaction.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// A handle to the ingest writer; cheap to clone.
#[derive(Clone)]
pub struct IngestQueue {
    tx: mpsc::Sender<(NewEvent, Reply)>,
}

impl IngestQueue {
    /// Starts the writer task. `in_flight` transactions may commit at once
    /// (1 suits SQLite's single writer; more suit PostgreSQL). `wake` is
    /// notified after every commit that queued work, so a local worker starts at once.
    pub fn start(store: Arc<dyn Ingest>, in_flight: usize, wake: Arc<Notify>) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(writer(store, rx, Arc::new(Semaphore::new(in_flight.max(1))), wake));
        Self { tx }
    }

    /// Writes one event durably, together with whatever else is waiting.
    pub async fn submit(&self, event: NewEvent) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| StoreError::unavailable("the ingest writer has stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::unavailable("the ingest writer has stopped"))?
    }
}

async fn writer(
    store: Arc<dyn Ingest>,
    mut rx: mpsc::Receiver<(NewEvent, Reply)>,
    permits: Arc<Semaphore>,
    wake: Arc<Notify>,
) {
    while let Some(first) = rx.recv().await {
        // Wait for a free transaction slot first: while we wait, more requests gather.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let store = store.clone();
        let wake = wake.clone();
        tokio::spawn(async move {
            commit(&*store, batch).await;
            wake.notify_waiters();
            drop(permit);
        });
    }
}

async fn commit(store: &dyn Ingest, batch: Vec<(NewEvent, Reply)>) {
    let (events, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    match store.insert_events(&events).await {
        Ok(()) => {
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
        }
        // One bad row must not fail its neighbours: write them one by one.
        Err(StoreError::Internal { .. } | StoreError::Conflict { .. }) if events.len() > 1 => {
            for (event, reply) in events.into_iter().zip(replies) {
                let _ = reply.send(store.insert_events(std::slice::from_ref(&event)).await);
            }
        }
        Err(e) => {
            let message = e.to_string();
            tracing::warn!(events = events.len(), error = %message, "Ingest batch failed.");
            for reply in replies {
                let _ = reply.send(Err(StoreError::unavailable(message.clone())));
            }
        }
    }
}
