//! The database itself stopped and started again under load, with the `hookflow` binary as
//! processes on a PostgreSQL server of the test's own: ingest answers 503 while it is down,
//! nothing acknowledged is lost, and everything resumes when it is back.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::cluster::{
    all_finished, assert_every_acked_succeeded, connector, Calls, Load, Nodes, LEASE, ONE_AT_A_TIME, PG_BIN_ENV,
};
use crate::peer::{Peer, Reply};
use crate::spawn::cli_workspace_at;

/// A PostgreSQL server of the test's own in a temporary folder, from the machine's binaries;
/// stopped at once when dropped.
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Run as root: the tools run as `postgres`, which owns the folder.
    as_postgres: bool,
}

impl PrivatePostgres {
    async fn start(bin: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if as_postgres {
            let chown = std::process::Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown of {} to postgres", dir.path().display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = pg.data();
        pg.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"])
            .await;
        pg.start_server().await;
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, tool: &str) -> std::process::Command {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            std::process::Command::new(program)
        };
        command.stdin(Stdio::null());
        command
    }

    async fn run(&self, tool: &str, args: &[&str]) {
        let mut command = tokio::process::Command::from(self.command(tool));
        let out = command.args(args).output().await.unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    async fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").to_string_lossy().into_owned();
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "30", "start"],
        )
        .await;
    }

    async fn stop_server(&self) {
        let data = self.data();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "-t", "30", "stop"])
            .await;
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if std::thread::panicking() {
            eprintln!("--- the private PostgreSQL's log:\n{}", self.log());
        }
    }
}

/// Posts one event with a timeout; answers the status and how long the answer took.
async fn probe(client: &reqwest::Client, hook: &str) -> Result<(u16, Duration), String> {
    let sent = Instant::now();
    match client
        .post(hook)
        .json(&json!({"probe": true}))
        .timeout(Duration::from_secs(20))
        .send()
        .await
    {
        Ok(r) => Ok((r.status().as_u16(), sent.elapsed())),
        Err(e) => Err(format!("no answer after {:.1}s: {e}", sent.elapsed().as_secs_f64())),
    }
}

/// The database stops under load and starts again: ingest answers 503 meanwhile, the nodes
/// recover without a restart, and every acknowledged event completes.
#[tokio::test]
async fn database_restart_under_load() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(bin) = std::env::var_os(PG_BIN_ENV) else {
        eprintln!("{PG_BIN_ENV} is not set (the folder of initdb and pg_ctl): the database restart test is skipped");
        return;
    };
    let pg = PrivatePostgres::start(PathBuf::from(bin)).await;
    let started = Instant::now();
    let token = cli_workspace_at(&pg.url()).await["token"].as_str().unwrap().to_owned();
    let mut peer = Peer::start(Reply::json(200, json!({"ok": true}))).await;
    let mut nodes = Nodes::new();
    for _ in 0..2 {
        nodes.start(&pg.url(), &[("HOOKFLOW_LEASE", LEASE)]).await;
    }
    let client = reqwest::Client::new();
    let (connector, path) = connector(&client, &nodes.bases[0], &token, &peer.base).await;
    let hooks: Vec<String> = nodes.bases.iter().map(|b| format!("{b}{path}")).collect();
    let load = Load::start(hooks.clone(), 8, usize::MAX);
    load.until_acked(300, 60).await;

    pg.stop_server().await;
    let down = Instant::now();
    let before = load.acked();
    // Both nodes and both questions at once, so the database stays down for seconds, not for every probe in turn.
    let answers = futures::future::join_all(hooks.iter().zip(&nodes.bases).map(|(hook, base)| {
        let client = client.clone();
        async move {
            let asked = Instant::now();
            let ready = async {
                client
                    .get(format!("{base}/readyz"))
                    .timeout(Duration::from_secs(20))
                    .send()
                    .await
                    .map(|r| (r.status().as_u16(), asked.elapsed()))
                    .map_err(|e| format!("no answer after {:.1}s: {e}", asked.elapsed().as_secs_f64()))
            };
            tokio::join!(probe(&client, hook), ready)
        }
    }))
    .await;
    for (i, (ingest, ready)) in answers.into_iter().enumerate() {
        eprintln!("node {i} while the database was down: ingest {ingest:?}, readyz {ready:?}");
        let (status, _) = ingest.unwrap_or_else(|e| panic!("node {i}: ingest: {e}"));
        assert_eq!(status, 503, "node {i}: ingest while the database is down");
        let (status, _) = ready.unwrap_or_else(|e| panic!("node {i}: readyz: {e}"));
        assert_ne!(status, 200, "node {i}: ready while the database is down");
    }
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(down.elapsed())).await;
    let acked_while_down = load.acked() - before;
    pg.start_server().await;
    let up = Instant::now();
    eprintln!(
        "the database was down for {:.1}s; {acked_while_down} acknowledgements arrived meanwhile (requests answered before the stop)",
        down.elapsed().as_secs_f64()
    );

    for (i, hook) in hooks.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ingest = probe(&client, hook).await;
            let ready = client
                .get(format!("{}/readyz", nodes.bases[i]))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string());
            if matches!(ingest, Ok((200..=299, _))) && ready == Ok(200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {i} has not recovered 30s after the database came back: ingest {ingest:?}, readyz {ready:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!(
            "node {i} recovered {:.1}s after the database came back",
            up.elapsed().as_secs_f64()
        );
    }
    let after = load.acked();
    load.until_acked(after + 300, 60).await;
    let (acked, refused) = load.finish().await;
    let odd: Vec<_> = refused.iter().filter(|(_, what)| what != "status 503").collect();
    assert!(odd.is_empty(), "refused other than with 503: {odd:?}");
    eprintln!("{} acknowledged, {} refused with 503", acked.len(), refused.len());

    let base = &nodes.bases[0];
    all_finished(&client, base, &token, &connector, acked.len(), 120).await;
    let mut calls = Calls::default();
    calls.take(&mut peer);
    assert_every_acked_succeeded(&client, base, &token, &connector, &acked, &calls).await;
    for i in 0..2 {
        assert!(nodes.running(i), "node {i} stopped:\n{}", nodes.log(i));
    }
    eprintln!(
        "database restart: {} calls twice; all done after {:.1}s",
        calls.repeated().len(),
        started.elapsed().as_secs_f64()
    );
}
