//! `hookflow`: the command line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hookflow::{defaults, Config};
use hookflow_store::Backend;

/// mimalloc instead of glibc's malloc: a profile of the engine under load spent about an eighth of
/// its CPU in glibc's malloc and free, which mimalloc's per-thread free lists mostly avoid. Counted
/// per thread, so that a template render is held to its memory budget (`hookflow-expr`).
#[global_allocator]
static ALLOCATOR: hookflow_alloc::Counting<mimalloc::MiMalloc> = hookflow_alloc::Counting(mimalloc::MiMalloc);

#[derive(Parser)]
#[command(name = "hookflow", version, about = "A self-hosted webhook connector engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: ingest, management API and workers.
    Serve(Box<ServeArgs>),
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and print its id and first API token as JSON (the token is shown once).
    Create {
        /// The workspace's name.
        name: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(clap::Args)]
struct DatabaseArg {
    /// `sqlite:PATH` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "HOOKFLOW_DATABASE_URL", default_value = defaults::DATABASE)]
    database: String,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOOKFLOW_LISTEN", default_value = defaults::LISTEN)]
    listen: String,
    #[command(flatten)]
    db: DatabaseArg,
    /// Base of the connector URLs handed out; `http://{listen}` when unset.
    #[arg(long, env = "HOOKFLOW_PUBLIC_URL")]
    public_url: Option<String>,
    /// Largest accepted request body, e.g. `10MiB`.
    #[arg(long, env = "HOOKFLOW_MAX_BODY", default_value = defaults::MAX_BODY)]
    max_body: String,
    /// Concurrent executions on this node (most of an execution is waiting on a peer or the database).
    #[arg(long, env = "HOOKFLOW_WORKERS", default_value_t = defaults::WORKERS)]
    workers: usize,
    /// How long shutdown waits for running executions before handing them back, e.g. `10s`.
    #[arg(long, env = "HOOKFLOW_SHUTDOWN_GRACE", default_value = defaults::SHUTDOWN_GRACE)]
    shutdown_grace: String,
    /// How long a claimed job stays this node's without a heartbeat (heartbeats run every third of
    /// it); a killed node's jobs are resumed elsewhere after it, e.g. `30s`. At least `1s`.
    #[arg(long, env = "HOOKFLOW_LEASE", default_value = defaults::LEASE)]
    lease: String,
    /// Networks outbound calls may reach despite the private-address guard, comma-separated CIDRs.
    #[arg(long, env = "HOOKFLOW_ALLOW_NETWORKS", default_value = defaults::ALLOW_NETWORKS)]
    allow_networks: String,
    /// Retry delays of subscription deliveries, comma-separated (each ±20 % jitter).
    #[arg(long, env = "HOOKFLOW_DELIVERY_SCHEDULE", default_value = defaults::DELIVERY_SCHEDULE)]
    delivery_schedule: String,
    /// Timeout of one delivery attempt.
    #[arg(long, env = "HOOKFLOW_DELIVERY_TIMEOUT", default_value = defaults::DELIVERY_TIMEOUT)]
    delivery_timeout: String,
    /// A subscription whose deliveries all failed for this long is disabled.
    #[arg(long, env = "HOOKFLOW_DELIVERY_DISABLE_AFTER", default_value = defaults::DELIVERY_DISABLE_AFTER)]
    delivery_disable_after: String,
    /// How long events, journals and deliveries are kept (`30d`), or `off`.
    #[arg(long, env = "HOOKFLOW_RETENTION", default_value = defaults::RETENTION)]
    retention: String,
    /// What this node does: `all` (ingest, API and workers), `ingest` (no workers) or `worker`
    /// (workers; HTTP only for /healthz, /readyz and /metrics).
    #[arg(long, env = "HOOKFLOW_ROLE", default_value = defaults::ROLE)]
    role: String,
    /// How long a request head may take, from its first byte (for a new connection, from the
    /// connection's start); a slower connection is closed.
    #[arg(long, env = "HOOKFLOW_HEADER_TIMEOUT", default_value = defaults::HEADER_TIMEOUT)]
    header_timeout: String,
    /// How long a request body may take to arrive in full once it is read; a slower one is
    /// answered 408 and its connection closed.
    #[arg(long, env = "HOOKFLOW_BODY_TIMEOUT", default_value = defaults::BODY_TIMEOUT)]
    body_timeout: String,
    /// How long a connection may stay idle between two requests.
    #[arg(long, env = "HOOKFLOW_KEEP_ALIVE", default_value = defaults::KEEP_ALIVE)]
    keep_alive: String,
    /// Connections open at once (never more than the open-file limit allows); over it the
    /// longest-waiting idle connection is closed, or, when every one is busy, the new one gets 503.
    #[arg(long, env = "HOOKFLOW_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "HOOKFLOW_LOG_JSON")]
    log_json: bool,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let backend: Backend = self
            .db
            .database
            .parse()
            .map_err(anyhow::Error::msg)
            .context("bad --database")?;
        let max_body = hookflow_core::retry::parse_size(&self.max_body)
            .map_err(anyhow::Error::msg)
            .context("bad --max-body")?;
        anyhow::ensure!(max_body > 0, "bad --max-body: it must be above zero");
        anyhow::ensure!(self.workers > 0, "bad --workers: at least one worker is needed");
        let grace: Duration = hookflow_core::retry::parse_duration(&self.shutdown_grace)
            .map_err(anyhow::Error::msg)
            .context("bad --shutdown-grace")?;
        let lease: Duration = hookflow_core::retry::parse_duration(&self.lease)
            .map_err(anyhow::Error::msg)
            .context("bad --lease")?;
        anyhow::ensure!(
            lease >= Duration::from_secs(1),
            "bad --lease: `{}` is too short; a lease must be at least 1s",
            self.lease
        );
        if let Some(url) = &self.public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "bad --public-url: `{url}` must start with http:// or https://"
            );
        }
        let allow_networks = hookflow_delivery::Guard::parse(&self.allow_networks)
            .map_err(anyhow::Error::msg)
            .context("bad --allow-networks")?;
        let duration = |flag: &str, text: &str| {
            hookflow_core::retry::parse_duration(text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("bad --{flag}"))
        };
        let schedule = hookflow::parse_schedule(&self.delivery_schedule)
            .map_err(anyhow::Error::msg)
            .context("bad --delivery-schedule")?;
        let delivery = hookflow_engine::deliveries::DeliverySettings {
            schedule,
            timeout: duration("delivery-timeout", &self.delivery_timeout)?,
            disable_after: duration("delivery-disable-after", &self.delivery_disable_after)?,
            ..Default::default()
        };
        let timeout = |flag: &str, text: &str| {
            let d = duration(flag, text)?;
            anyhow::ensure!(!d.is_zero(), "bad --{flag}: it must be above zero");
            Ok(d)
        };
        anyhow::ensure!(
            self.max_connections > 0,
            "bad --max-connections: at least one connection is needed"
        );
        let http = hookflow_server::serve::Limits {
            header_timeout: timeout("header-timeout", &self.header_timeout)?,
            body_timeout: timeout("body-timeout", &self.body_timeout)?,
            keep_alive: timeout("keep-alive", &self.keep_alive)?,
            max_connections: self.max_connections,
        };
        Ok(Config {
            backend: backend.clone(),
            public_url: self.public_url.clone(),
            max_body,
            workers: self.workers,
            grace,
            lease,
            allow_networks,
            delivery,
            delivery_workers: self.workers,
            role: self.role.parse().map_err(anyhow::Error::msg).context("bad --role")?,
            retention: hookflow::parse_retention(&self.retention)
                .map_err(anyhow::Error::msg)
                .context("bad --retention")?,
            http,
            ..Config::new(backend)
        })
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    hookflow::setup_tracing(args.log_json, false);
    let config = args.config()?;
    let open_files = hookflow::raise_open_files_limit();
    tracing::debug!(?open_files, "Open-file limit.");
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    hookflow::run(config, listener, hookflow::shutdown_signal()).await
}

async fn workspace_create(name: &str, db: &DatabaseArg) -> anyhow::Result<()> {
    hookflow::setup_tracing(false, false);
    let backend: Backend = db
        .database
        .parse()
        .map_err(anyhow::Error::msg)
        .context("bad --database")?;
    let store = hookflow::open_store(&backend).await?;
    let created = hookflow::create_workspace(&*store, name).await?;
    println!("{}", serde_json::to_string(&created)?);
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Workspace {
            command: WorkspaceCommand::Create { name, db },
        } => workspace_create(&name, &db).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookflow: {e:#}");
            ExitCode::FAILURE
        }
    }
}
