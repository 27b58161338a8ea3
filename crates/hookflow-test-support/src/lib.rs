//! Dev-only helpers: a fresh database per test, on SQLite always and on
//! PostgreSQL when `HOOKFLOW_TEST_POSTGRES_URL` names a server.

pub mod smtp;

use std::sync::Arc;

use hookflow_store::{Backend, SqlStore, StoreOptions};
use rand::Rng;
use sqlx::Connection;

/// The environment variable naming a PostgreSQL server for tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`. Each test gets a database of its own on it.
pub const POSTGRES_ENV: &str = "HOOKFLOW_TEST_POSTGRES_URL";

/// A database that lives as long as the test holds it.
pub struct TestDatabase {
    pub label: &'static str,
    pub backend: Backend,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A new SQLite file in a temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("hookflow.db").to_string_lossy().into_owned();
        Self {
            label: "sqlite",
            url: format!("sqlite:{path}"),
            backend: Backend::Sqlite(path),
            _dir: Some(dir),
        }
    }

    /// A new, empty database on the server `HOOKFLOW_TEST_POSTGRES_URL` names,
    /// or `None` (with a line saying the PostgreSQL run is skipped) when it is unset.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin) = std::env::var(POSTGRES_ENV) else {
            eprintln!("{POSTGRES_ENV} is not set: the PostgreSQL run of this test is skipped");
            return None;
        };
        let name = format!(
            "hf_test_{}_{:08x}",
            hookflow_core::Timestamp::now().as_millis(),
            rand::thread_rng().gen::<u32>()
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect to the test PostgreSQL server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        drop_stale(&mut conn).await;
        let _ = conn.close().await;
        let url = with_database(&admin, &name);
        Some(Self {
            label: "postgres",
            backend: Backend::Postgres(url.clone()),
            url,
            _dir: None,
        })
    }

    /// SQLite, and PostgreSQL when configured.
    pub async fn all() -> Vec<Self> {
        let mut all = vec![Self::sqlite()];
        all.extend(Self::postgres().await);
        all
    }

    pub async fn store(&self) -> Arc<SqlStore> {
        Arc::new(
            SqlStore::connect(&StoreOptions::new(self.backend.clone()))
                .await
                .expect("open the test store"),
        )
    }
}

/// Drops test databases left behind more than an hour ago by earlier runs.
async fn drop_stale(conn: &mut sqlx::PgConnection) {
    let cutoff = hookflow_core::Timestamp::now().as_millis() - 3_600_000;
    let names: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'hf_test_%'")
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
    for (name,) in names {
        let made: i64 = name.split('_').nth(2).and_then(|t| t.parse().ok()).unwrap_or(i64::MAX);
        if made < cutoff {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut *conn)
                .await;
        }
    }
}

/// The same server URL with another database name.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn with_database_swaps_the_name() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
