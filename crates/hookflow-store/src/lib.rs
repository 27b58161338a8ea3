//! The SQL store: implements every role of [`hookflow_engine::store`] on SQLite
//! (the embedded default) and PostgreSQL (several nodes sharing one database),
//! one module per table family (see ARCHITECTURE.md).
//!
//! One implementation serves both through sqlx's `Any` driver: the schema
//! uses only types both databases share (TEXT, BIGINT, BLOB/BYTEA), SQL is
//! written once with `$n` parameters, and the few differences live in
//! [`Dialect`]. Migrations are per database under `migrations/`.
//!
//! Invariant: this is the only crate with SQL.

mod cipher;
mod connectors;
mod contacts;
mod db;
mod deliveries;
mod executions;
mod ingest;
mod journal;
mod op;
mod outbox;
mod pg;
mod queue;
mod rows;
mod subscriptions;
mod workspaces;
mod writer;

use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;

use hookflow_engine::store::StoreResult;
use hookflow_engine::StoreError;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::db::db_error;
use crate::ingest::TargetCache;

pub use cipher::{Cipher, SecretKeys};

/// The store over SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    /// Writes go here: one connection on SQLite, the shared pool on PostgreSQL.
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    pub(crate) dialect: Dialect,
    /// Where the database is, for the PostgreSQL listener.
    pub(crate) backend: crate::Backend,
    /// SQLite's group-commit task for the hot writes; `None` on PostgreSQL.
    pub(crate) writer: Option<crate::writer::Writer>,
    targets: Arc<TargetCache>,
    /// Seals secret values at rest (channel credentials, subscription secrets and headers,
    /// workspace secrets).
    pub(crate) cipher: Arc<crate::Cipher>,
}

impl SqlStore {
    /// Opens (creating if needed) and migrates the database.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        let cipher = Arc::new(crate::Cipher::load(&options.keys).map_err(StoreError::internal)?);
        let (write, read, dialect) = crate::open(options).await.map_err(|e| match e {
            sqlx::Error::Migrate(m) => StoreError::internal(format!("migration failed: {m}")),
            other => db_error(other),
        })?;
        let mut store = Self {
            write,
            read,
            dialect,
            backend: options.backend.clone(),
            writer: None,
            targets: Arc::default(),
            cipher,
        };
        store.reseal().await?;
        if dialect == Dialect::Sqlite {
            store.writer = Some(crate::writer::Writer::start(store.clone()));
        }
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// How many ingest batches should be under way at once on this database. On SQLite
    /// one waits in the group-commit queue while the other commits.
    pub fn ingest_in_flight(&self) -> usize {
        match self.dialect {
            Dialect::Sqlite => 2,
            Dialect::Postgres => 4,
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        self.write.begin().await.map_err(db_error)
    }
}

/// The database behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The database's own clock in Unix milliseconds, as SQL. Leases are set
    /// and expired on this one clock, so a slow statement or a node whose
    /// clock runs ahead never hands out a lease that has already run out.
    pub(crate) fn now_millis(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS BIGINT)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }
}

/// A checked database location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file path (created if missing).
    Sqlite(String),
    /// A `postgres://` URL.
    Postgres(String),
}

impl FromStr for Backend {
    type Err = String;

    /// Accepts `sqlite:PATH`, `sqlite://PATH`, `postgres://…`, `postgresql://…`, or a bare file path.
    fn from_str(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(format!(
                "`{url}` names no database: use sqlite:PATH or postgres://USER@HOST/DB"
            ));
        }
        if path.contains("://") {
            return Err(format!(
                "`{url}` is not a supported database URL: use sqlite:PATH or postgres://USER@HOST/DB"
            ));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }
}

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub backend: Backend,
    /// Connections for reads (and, on PostgreSQL, writes).
    pub max_connections: u32,
    /// How long a query waits for a free connection before the store answers
    /// `Unavailable` (ingest then answers 503).
    pub acquire_timeout: Duration,
    /// The keys that seal secret values at rest; by default a key file beside the database.
    pub keys: SecretKeys,
}

impl StoreOptions {
    pub fn new(backend: Backend) -> Self {
        // On PostgreSQL one pool serves ingest, both worker loops, heartbeats and the API.
        let max_connections = match backend {
            Backend::Sqlite(_) => 8,
            Backend::Postgres(_) => 16,
        };
        let keys = SecretKeys {
            file: Some(SecretKeys::file_beside(&backend)),
            ..SecretKeys::default()
        };
        Self {
            backend,
            max_connections,
            acquire_timeout: Duration::from_secs(5),
            keys,
        }
    }
}

/// How long opening a SQLite database waits for another process that holds its write lock
/// (migrating it, say) before it fails.
const MIGRATION_WAIT: Duration = Duration::from_secs(30);

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// Runs the migrations with the native driver, then opens the `Any` pools.
///
/// The pools hand out a connection without pinging it first: sqlx already pings every connection
/// when it comes back and drops it should that fail, and the ping on the way out cost a round trip
/// (a thread hand-off on SQLite, a network round trip on PostgreSQL) per query. A connection that
/// broke while idle (the database restarted) fails its next query as unavailable, which every
/// caller already retries or answers with 503, and is dropped.
pub(crate) async fn open(options: &StoreOptions) -> Result<(AnyPool, AnyPool, Dialect), sqlx::Error> {
    install_drivers();
    match &options.backend {
        Backend::Sqlite(path) => {
            let native = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .busy_timeout(MIGRATION_WAIT)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            let pool = connect_sqlite(native).await?;
            migrate_sqlite(&pool).await?;
            pool.close().await;
            let url = format!("sqlite://{path}");
            // One writer connection: SQLite allows one writer at a time, and a
            // single connection turns lock contention into an orderly queue.
            let write = sqlite_pool(&url, 1, options.acquire_timeout).await?;
            let read = sqlite_pool(&url, options.max_connections, options.acquire_timeout).await?;
            Ok((write, read, Dialect::Sqlite))
        }
        Backend::Postgres(url) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await?;
            // sqlx's migrator holds a `pg_advisory_lock` of the database while it reads and
            // applies migrations, so nodes starting together apply each one once.
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            pool.close().await;
            let any = AnyPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .test_before_acquire(false)
                .connect(url)
                .await?;
            Ok((any.clone(), any, Dialect::Postgres))
        }
    }
}

/// Opens the one connection that migrates a SQLite database. Switching a fresh file to WAL
/// answers "database is locked" at once, without waiting on the busy timeout, while another
/// process switches it too; that open is tried again until [`MIGRATION_WAIT`] has passed.
async fn connect_sqlite(options: sqlx::sqlite::SqliteConnectOptions) -> Result<sqlx::SqlitePool, sqlx::Error> {
    let started = std::time::Instant::now();
    loop {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await;
        match pool {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("5") && started.elapsed() < MIGRATION_WAIT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// Migrates a SQLite database in one `BEGIN IMMEDIATE` transaction. sqlx's migrator takes no lock
/// on SQLite: two processes opening a fresh file at once (`hookflow serve` beside `hookflow
/// workspace create`) both read that nothing ran and both create the tables, and the second
/// fails. Holding the write lock from before that read makes the second wait (busy timeout) and
/// then find every migration applied; each migration runs in a savepoint of this transaction.
async fn migrate_sqlite(pool: &sqlx::SqlitePool) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::migrate!("./migrations/sqlite").run_direct(&mut *tx).await?;
    tx.commit().await
}

async fn sqlite_pool(url: &str, max: u32, acquire_timeout: Duration) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // FULL: a commit is on disk before the ingest answers, even across power loss.
                conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls() {
        assert_eq!("sqlite:hookflow.db".parse(), Ok(Backend::Sqlite("hookflow.db".into())));
        assert_eq!("sqlite:///tmp/x.db".parse(), Ok(Backend::Sqlite("/tmp/x.db".into())));
        assert_eq!("data/x.db".parse(), Ok(Backend::Sqlite("data/x.db".into())));
        assert_eq!(
            "postgres://u@h/db".parse(),
            Ok(Backend::Postgres("postgres://u@h/db".into()))
        );
        assert!("mysql://h/db".parse::<Backend>().is_err());
        assert!("sqlite:".parse::<Backend>().is_err());
    }
}
