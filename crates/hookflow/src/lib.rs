//! The `hookflow` binary's library half: configuration, tracing, and
//! [`run`], which wires the store, the ingest writer, the workers and the
//! HTTP server together. `main.rs` only parses the command line.
//!
//! Invariant: this is the only crate (besides tests) that names a store
//! implementation.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hookflow_core::{secret, TokenId, WorkspaceId};
use hookflow_engine::deliveries::DeliveryHandler;
use hookflow_engine::executor::ExecutionHandler;
use hookflow_engine::ingest::IngestQueue;
use hookflow_engine::intake::Intake;
use hookflow_engine::store::NewWorkspace;
use hookflow_engine::worker::{self, WorkerConfig};
use hookflow_engine::Store;
use hookflow_server::{AppState, ServerConfig};
use hookflow_store::{Backend, SqlStore, StoreOptions};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Ingest, API and workers.
    All,
    /// Ingest and API; no workers.
    Ingest,
    /// Workers; HTTP only for health, readiness and metrics.
    Worker,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(Self::All),
            "ingest" => Ok(Self::Ingest),
            "worker" => Ok(Self::Worker),
            other => Err(format!("`{other}` is not a role; expected all, ingest or worker")),
        }
    }
}

/// Checked settings of `hookflow serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub backend: Backend,
    /// The base of connector URLs; `http://{listen address}` when unset.
    pub public_url: Option<String>,
    pub max_body: usize,
    /// Executions run at once on this node.
    pub workers: usize,
    /// How long shutdown waits for running executions.
    pub grace: Duration,
    /// How long a claimed job stays this node's without a heartbeat; heartbeats run every third of
    /// it, and another node may resume the job once it expires.
    pub lease: Duration,
    /// Networks outbound calls may reach despite the private-address guard.
    pub allow_networks: hookflow_delivery::Guard,
    /// Subscription deliveries: schedule, timeout, auto-disable.
    pub delivery: hookflow_engine::deliveries::DeliverySettings,
    /// Deliveries sent at once on this node.
    pub delivery_workers: usize,
    pub role: Role,
    /// Events, journals and deliveries older than this are pruned; `None` keeps everything.
    pub retention: Option<Duration>,
    /// How often pruning looks for old data.
    pub retention_every: Duration,
    /// How often idle workers look for due work without a wake-up.
    pub poll_interval: Duration,
    /// Header, body and keep-alive timeouts, and the connection cap as configured (the cap in
    /// force may be lower: see [`connection_cap`]).
    pub http: hookflow_server::serve::Limits,
}

/// The defaults of `hookflow serve`'s flags, written as the flags take them (and as `--help` and
/// the README show them). [`Config::new`] is these, parsed: they are written nowhere else.
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const DATABASE: &str = "sqlite:hookflow.db";
    pub const MAX_BODY: &str = "10MiB";
    pub const WORKERS: usize = 64;
    pub const SHUTDOWN_GRACE: &str = "10s";
    pub const LEASE: &str = "30s";
    pub const ALLOW_NETWORKS: &str = "";
    pub const DELIVERY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";
    pub const DELIVERY_TIMEOUT: &str = "15s";
    pub const DELIVERY_DISABLE_AFTER: &str = "5d";
    pub const RETENTION: &str = "30d";
    pub const ROLE: &str = "all";
    pub const HEADER_TIMEOUT: &str = "10s";
    pub const BODY_TIMEOUT: &str = "30s";
    pub const KEEP_ALIVE: &str = "60s";
    pub const MAX_CONNECTIONS: usize = 10_000;
}

/// `--delivery-schedule`: durations, comma-separated; empty entries are skipped.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(hookflow_core::retry::parse_duration)
        .collect()
}

/// `--retention`: a duration, or `off` (also `never`) to keep everything.
pub fn parse_retention(text: &str) -> Result<Option<Duration>, String> {
    match text {
        "off" | "never" => Ok(None),
        text => hookflow_core::retry::parse_duration(text).map(Some),
    }
}

impl Config {
    /// What `hookflow serve` runs with on `backend` when no flag is given ([`defaults`]), with 16
    /// delivery workers (the command line runs as many as `--workers`).
    ///
    /// Panics if a default does not parse, which is a broken invariant (a unit test parses them).
    pub fn new(backend: Backend) -> Self {
        use hookflow_core::retry::{parse_duration, parse_size};
        const PARSE: &str = "invariant: the defaults parse";
        let duration = |text| parse_duration(text).expect(PARSE);
        Self {
            backend,
            public_url: None,
            max_body: parse_size(defaults::MAX_BODY).expect(PARSE),
            workers: defaults::WORKERS,
            grace: duration(defaults::SHUTDOWN_GRACE),
            lease: duration(defaults::LEASE),
            allow_networks: hookflow_delivery::Guard::parse(defaults::ALLOW_NETWORKS).expect(PARSE),
            delivery: hookflow_engine::deliveries::DeliverySettings {
                schedule: parse_schedule(defaults::DELIVERY_SCHEDULE).expect(PARSE),
                timeout: duration(defaults::DELIVERY_TIMEOUT),
                disable_after: duration(defaults::DELIVERY_DISABLE_AFTER),
                ..Default::default()
            },
            delivery_workers: 16,
            role: defaults::ROLE.parse().expect(PARSE),
            retention: parse_retention(defaults::RETENTION).expect(PARSE),
            retention_every: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            http: hookflow_server::serve::Limits {
                header_timeout: duration(defaults::HEADER_TIMEOUT),
                body_timeout: duration(defaults::BODY_TIMEOUT),
                keep_alive: duration(defaults::KEEP_ALIVE),
                max_connections: defaults::MAX_CONNECTIONS,
            },
        }
    }
}

/// File descriptors kept out of the connection cap, besides one per worker (an outbound call in
/// flight): the database's connections and files, the outbound connection pool, logs, the
/// runtime's own.
const FD_RESERVE: u64 = 64;

/// The connection cap in force: the configured one, but never more than the open-file limit
/// leaves after `reserve` descriptors (at most half the limit). Past that limit `accept` fails
/// and nothing, not even `/healthz`, gets in; under the cap the oldest idle connection makes
/// room instead.
pub fn connection_cap(configured: usize, open_files: Option<u64>, reserve: u64) -> usize {
    let Some(limit) = open_files else {
        return configured;
    };
    let left = limit.saturating_sub(reserve.min(limit / 2));
    configured.min(usize::try_from(left).unwrap_or(usize::MAX)).max(1)
}

/// The process's soft limit of open files, if it has one.
pub fn open_files_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Raises the soft limit of open files to the hard limit, as servers that hold many connections
/// do (systemd's default is a soft 1,024 under a hard 524,288): the connection cap is bounded by
/// the soft limit. Answers the limit in force.
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "Cannot raise the open-file limit.");
        }
    }
    open_files_limit()
}

/// Sets up `tracing` once: `RUST_LOG` overrides the default filter.
pub fn setup_tracing(json: bool, for_test: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("hookflow=info,hookflow_server=info,hookflow_engine=info,hookflow_store=info,tower_http=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match (json, for_test) {
        (true, false) => builder.json().try_init(),
        (false, false) => builder.try_init(),
        (true, true) => builder.json().with_test_writer().try_init(),
        (false, true) => builder.with_test_writer().try_init(),
    };
    // A second call (several tests in one process) keeps the first subscriber.
    let _ = result;
}

pub async fn open_store(backend: &Backend) -> anyhow::Result<Arc<SqlStore>> {
    let mut options = StoreOptions::new(backend.clone());
    options.keys = secret_keys(backend);
    let store = SqlStore::connect(&options)
        .await
        .with_context(|| format!("cannot open the database {}", describe(backend)))?;
    Ok(Arc::new(store))
}

/// The keys that seal secrets at rest, from the environment only: a key on the command line
/// would show in every process listing. `HOOKFLOW_SECRET_KEY` (base64 of 32 bytes) seals;
/// `HOOKFLOW_SECRET_KEY_PREVIOUS` (comma-separated) still opens; without a key, the file
/// `HOOKFLOW_SECRET_KEY_FILE` or, by default, one beside the database, made on first start.
pub fn secret_keys(backend: &Backend) -> hookflow_store::SecretKeys {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    hookflow_store::SecretKeys {
        current: var("HOOKFLOW_SECRET_KEY"),
        previous: var("HOOKFLOW_SECRET_KEY_PREVIOUS")
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        file: Some(var("HOOKFLOW_SECRET_KEY_FILE").map_or_else(
            || hookflow_store::SecretKeys::file_beside(backend),
            std::path::PathBuf::from,
        )),
    }
}

/// The database location without a password.
pub fn describe(backend: &Backend) -> String {
    match backend {
        Backend::Sqlite(path) => format!("sqlite:{path}"),
        Backend::Postgres(url) => match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => format!("postgres://…{}", &url[at..]),
            _ => url.clone(),
        },
    }
}

/// What `hookflow workspace create` prints.
#[derive(Debug, serde::Serialize)]
pub struct CreatedWorkspace {
    pub workspace_id: String,
    pub token: String,
}

/// Creates a workspace and its first API token; the token is returned once and stored hashed.
pub async fn create_workspace(store: &dyn Store, name: &str) -> anyhow::Result<CreatedWorkspace> {
    anyhow::ensure!(!name.trim().is_empty(), "a workspace needs a name");
    let token = secret::new_api_token();
    let ws = store
        .create_workspace(NewWorkspace {
            id: WorkspaceId::new(),
            name: name.trim().to_owned(),
            token_id: TokenId::new(),
            token_hash: hookflow_server::extract::hash_token(&token),
        })
        .await
        .context("cannot create the workspace")?;
    Ok(CreatedWorkspace {
        workspace_id: ws.id.to_string(),
        token,
    })
}

/// Serves until `shutdown` resolves: ingest, API and workers on one listener.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address: SocketAddr = listener.local_addr().context("the listener has no address")?;
    let store = open_store(&config.backend).await?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
    let wake = Arc::new(Notify::new());
    let dyn_store: Arc<dyn Store> = store.clone();
    let ingest = IngestQueue::start(dyn_store.clone(), store.ingest_in_flight(), wake.clone());
    let templates = Arc::new(hookflow_expr::Templates::new());
    let metrics = Arc::new(hookflow_engine::metrics::Metrics::default());
    // A render that computes for long hands its thread's other tasks to another thread.
    hookflow_engine::executor::hand_off_long_renders();
    let state = AppState {
        store: dyn_store.clone(),
        intake: Arc::new(Intake::new(ingest, templates.clone(), metrics.clone())),
        templates: templates.clone(),
        config: Arc::new(ServerConfig {
            public_url: public_url.clone(),
            max_body: config.max_body,
        }),
        wake: wake.clone(),
        rotation_overlap: config.delivery.rotation_overlap,
        metrics: metrics.clone(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let mut workers = Vec::new();
    if config.role != Role::Ingest {
        let client = Arc::new(hookflow_delivery::Client::new(
            config.allow_networks.clone(),
            concat!("hookflow/", env!("CARGO_PKG_VERSION")),
        ));
        let worker_config = WorkerConfig {
            concurrency: config.workers,
            grace: config.grace,
            lease: config.lease,
            poll_interval: config.poll_interval,
            ..WorkerConfig::default()
        };
        // On PostgreSQL, work queued by any node wakes this one at once.
        if let Some(listener) = store.listen(wake.clone()) {
            let stop = stopped();
            workers.push(tokio::spawn(async move {
                stop.await;
                listener.abort();
            }));
        }
        if let Some(statistics) = store.keep_planner_statistics(Duration::from_secs(30)) {
            let stop = stopped();
            workers.push(tokio::spawn(async move {
                stop.await;
                statistics.abort();
            }));
        }
        let executions = ExecutionHandler::new(dyn_store.clone(), templates, client.clone(), metrics.clone());
        workers.push(tokio::spawn(worker::run(
            dyn_store.clone(),
            Arc::new(executions),
            worker_config.clone(),
            wake.clone(),
            stopped(),
        )));
        if let Some(keep) = config.retention {
            let retention = hookflow_engine::retention::run(dyn_store.clone(), keep, config.retention_every, stopped());
            workers.push(tokio::spawn(retention));
        }
        // Deliveries have workers of their own: a slow subscriber never holds up executions.
        let deliveries = DeliveryHandler::new(dyn_store.clone(), client, config.delivery.clone(), metrics);
        workers.push(tokio::spawn(worker::run(
            dyn_store.clone(),
            Arc::new(deliveries),
            WorkerConfig {
                concurrency: config.delivery_workers,
                ..worker_config
            },
            wake,
            stopped(),
        )));
    }

    // Stdout carries only data: the address is announced in the log, under a target of its own
    // so that a filter can keep this one line (`warn,hookflow::listening=info`).
    tracing::info!(
        target: "hookflow::listening",
        url = %format_args!("http://{address}"),
        %address,
        public_url = %format_args!("{public_url}/hooks/"),
        database = %describe(&config.backend),
        role = ?config.role,
        "Listening."
    );
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let app = match config.role {
        Role::Worker => hookflow_server::ops_app(state),
        Role::All | Role::Ingest => hookflow_server::app(state),
    };
    hookflow_server::serve::serve(listener, app, http_limits(&config), stopped()).await;
    for w in workers {
        w.await.context("the workers panicked")?;
    }
    store.close().await;
    tracing::info!("Stopped.");
    Ok(())
}

/// The HTTP limits in force: the configured ones, with the connection cap bounded by the
/// open-file limit.
fn http_limits(config: &Config) -> hookflow_server::serve::Limits {
    let workers = match config.role {
        Role::Ingest => 0,
        Role::All | Role::Worker => config.workers + config.delivery_workers,
    };
    let reserve = FD_RESERVE + u64::try_from(workers).unwrap_or(u64::MAX);
    let open_files = open_files_limit();
    let max_connections = connection_cap(config.http.max_connections, open_files, reserve);
    if max_connections < config.http.max_connections {
        tracing::info!(
            max_connections,
            configured = config.http.max_connections,
            open_files,
            "The open-file limit lowers the connection cap."
        );
    }
    hookflow_server::serve::Limits {
        max_connections,
        ..config.http
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("Shutting down.");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{connection_cap, Config, Role};

    /// The defaults parse, into the values the libraries' own defaults have.
    #[test]
    fn the_defaults_parse() {
        let config = Config::new(hookflow_store::Backend::Sqlite("hookflow.db".into()));
        assert_eq!(config.max_body, 10 * 1024 * 1024);
        assert_eq!((config.workers, config.delivery_workers), (64, 16));
        assert_eq!(
            (config.grace, config.lease),
            (Duration::from_secs(10), Duration::from_secs(30))
        );
        assert_eq!(config.role, Role::All);
        assert_eq!(config.retention, Some(Duration::from_secs(30 * 86_400)));
        // Neither type compares; their Debug shows every field.
        let delivery = hookflow_engine::deliveries::DeliverySettings::default();
        assert_eq!(format!("{:?}", config.delivery), format!("{delivery:?}"));
        let http = hookflow_server::serve::Limits::default();
        assert_eq!(format!("{:?}", config.http), format!("{http:?}"));
        assert!(super::defaults::DATABASE.parse::<hookflow_store::Backend>().is_ok());
        assert!(super::defaults::LISTEN.parse::<std::net::SocketAddr>().is_ok());
    }

    #[test]
    fn the_open_file_limit_bounds_the_connection_cap() {
        assert_eq!(connection_cap(10_000, None, 200), 10_000);
        assert_eq!(connection_cap(10_000, Some(1_024), 200), 824);
        assert_eq!(
            connection_cap(10_000, Some(256), 200),
            128,
            "the reserve is at most half the limit"
        );
        assert_eq!(connection_cap(20, Some(1_024), 200), 20);
        assert_eq!(connection_cap(10_000, Some(0), 200), 1);
    }
}
