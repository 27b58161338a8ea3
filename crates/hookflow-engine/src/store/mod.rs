//! The storage interface: one trait per role, each in its own file with the records that cross it.
//!
//! A consumer takes only the roles it uses (the worker loop a [`Queue`], retention [`Runs`], the
//! ingest queue [`Ingest`]); [`Store`] is every role at once, for the API and the executor, and
//! anything that implements all of them is one.
//!
//! Every call that takes a [`WorkspaceId`](hookflow_core::WorkspaceId) sees only that workspace's
//! rows: a row of another workspace is answered exactly as a missing one.

mod connectors;
mod contacts;
mod deliveries;
mod ingest;
mod queue;
mod runs;
mod subscriptions;
mod workspaces;

pub use connectors::*;
pub use contacts::*;
pub use deliveries::*;
pub use ingest::*;
pub use queue::*;
pub use runs::*;
pub use subscriptions::*;
pub use workspaces::*;

/// The cause of a store error, kept for logs and never shown to API clients.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store can fail with; each variant says what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (a name or token already taken). `constraint` names the rule
    /// (`contacts(workspace_id, mobile)`); `detail` says it in words an API client may read.
    #[error("conflict: {detail}")]
    Conflict { constraint: String, detail: String },
    /// The database is unreachable or overloaded; trying again later may work.
    #[error("database unavailable: {detail}")]
    Unavailable {
        detail: String,
        #[source]
        source: Option<Source>,
    },
    /// A stored value cannot be decoded (JSON nested deeper than the reader's limit, or damaged):
    /// reading it again gives the same answer, so whatever needs it gives up instead of retrying.
    #[error("{0}")]
    Corrupt(String),
    /// Anything else: a bug.
    #[error("storage error: {detail}")]
    Internal {
        detail: String,
        #[source]
        source: Option<Source>,
    },
}

impl StoreError {
    /// A broken uniqueness rule that the caller explains itself.
    pub fn conflict(constraint: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Conflict {
            constraint: constraint.into(),
            detail: detail.into(),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::Unavailable {
            detail: detail.into(),
            source: None,
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::Internal {
            detail: detail.into(),
            source: None,
        }
    }

    /// Keeps `source` as the cause of this error.
    pub fn caused_by(self, source: impl Into<Source>) -> Self {
        match self {
            Self::Unavailable { detail, .. } => Self::Unavailable {
                detail,
                source: Some(source.into()),
            },
            Self::Internal { detail, .. } => Self::Internal {
                detail,
                source: Some(source.into()),
            },
            other => other,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a newest-first list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next (older) page, `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which page to read: at most `limit` items older than `cursor`.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Every role at once: what the API and the executor hold.
pub trait Store: Queue + Runs + Ingest + Connectors + Workspaces + Contacts + Subscriptions + Deliveries {}

impl<T> Store for T where
    T: Queue + Runs + Ingest + Connectors + Workspaces + Contacts + Subscriptions + Deliveries + ?Sized
{
}
