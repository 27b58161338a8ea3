//! Scale-out under faults, with the `hookflow` binary as processes: three
//! nodes on one PostgreSQL database with one of them SIGKILLed, and SIGTERM
//! under load (the database stopped under load is `db_restart.rs`). Nothing
//! acknowledged is lost, and a step's call arrives twice only when it was in
//! flight on a killed node.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hookflow_test_support::TestDatabase;
use serde_json::{json, Value};
use tokio::process::Child;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::peer::{connections_accepted, Conn, Peer, Reply};
use crate::spawn::{cli_workspace, serve_at, Log};

/// Short leases, so a killed node's jobs are resumed within seconds.
pub(crate) const LEASE: &str = "3s";
/// `HOOKFLOW_WORKERS` of every node: at most this many calls are in flight on a killed node.
const SLOTS: usize = 16;
/// The environment variable naming the folder that holds `initdb` and `pg_ctl`.
pub(crate) const PG_BIN_ENV: &str = "HOOKFLOW_TEST_PG_BIN";

/// The tests here start several nodes each and load them; on a small machine two at once would
/// starve each other's heartbeats. Each holds this while it runs.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `hookflow serve` processes, each logging to a file; a failing test prints the end of every log.
pub(crate) struct Nodes {
    pub(crate) children: Vec<Child>,
    pub(crate) bases: Vec<String>,
    pub(crate) logs: tempfile::TempDir,
}

impl Nodes {
    pub(crate) fn new() -> Self {
        Self {
            children: Vec::new(),
            bases: Vec::new(),
            logs: tempfile::tempdir().unwrap(),
        }
    }

    /// Starts one more node; answers its index.
    pub(crate) async fn start(&mut self, database: &str, env: &[(&str, &str)]) -> usize {
        let i = self.children.len();
        let log = std::fs::File::create(self.logs.path().join(format!("node{i}.log"))).unwrap();
        let env: Vec<(&str, &str)> = env.iter().copied().chain([("NO_COLOR", "1")]).collect();
        let (child, base) = serve_at(database, "warn", Log::File(log), &env).await;
        self.children.push(child);
        self.bases.push(base);
        i
    }

    pub(crate) fn pid(&self, i: usize) -> u32 {
        self.children[i].id().expect("the node is running")
    }

    pub(crate) fn running(&mut self, i: usize) -> bool {
        self.children[i].try_wait().unwrap().is_none()
    }

    pub(crate) fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.logs.path().join(format!("node{i}.log"))).unwrap_or_default()
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for i in 0..self.bases.len() {
                let log = self.log(i);
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                eprintln!("--- node {i} ({}), last lines of its log:\n{tail}", self.bases[i]);
            }
        }
    }
}

/// Senders posting events round-robin to the hook URLs in rotation until told to stop or `goal`
/// are acknowledged; a request that is not acknowledged is recorded and sent again.
pub(crate) struct Load {
    pub(crate) acked: Arc<Mutex<Vec<String>>>,
    pub(crate) refused: Arc<Mutex<Vec<(String, String)>>>,
    pub(crate) rotation: Arc<RwLock<Vec<String>>>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) senders: Vec<JoinHandle<()>>,
}

impl Load {
    pub(crate) fn start(hooks: Vec<String>, senders: usize, goal: usize) -> Self {
        let client = reqwest::Client::new();
        let load = Self {
            acked: Arc::default(),
            refused: Arc::default(),
            rotation: Arc::new(RwLock::new(hooks)),
            stop: Arc::default(),
            senders: Vec::new(),
        };
        let reserved = Arc::new(AtomicUsize::new(0));
        let sequence = Arc::new(AtomicUsize::new(0));
        let senders = (0..senders)
            .map(|_| {
                let (client, reserved, sequence) = (client.clone(), reserved.clone(), sequence.clone());
                let (acked, refused, rotation, stop) = (
                    load.acked.clone(),
                    load.refused.clone(),
                    load.rotation.clone(),
                    load.stop.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        if reserved.fetch_add(1, Ordering::SeqCst) >= goal {
                            reserved.fetch_sub(1, Ordering::SeqCst);
                            break;
                        }
                        let n = sequence.fetch_add(1, Ordering::SeqCst);
                        let url = {
                            let rotation = rotation.read().unwrap();
                            rotation[n % rotation.len()].clone()
                        };
                        let sent = client
                            .post(&url)
                            .json(&json!({"n": n}))
                            .timeout(Duration::from_secs(30))
                            .send()
                            .await;
                        let failure = match sent {
                            Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                                Ok(answer) => {
                                    let id = answer["event_id"].as_str().expect("an event id").to_owned();
                                    acked.lock().unwrap().push(id);
                                    continue;
                                }
                                Err(e) => format!("an unreadable answer: {e}"),
                            },
                            Ok(r) => format!("status {}", r.status().as_u16()),
                            Err(e) => format!("no answer: {e}"),
                        };
                        reserved.fetch_sub(1, Ordering::SeqCst);
                        refused.lock().unwrap().push((url, failure));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
            })
            .collect();
        Self { senders, ..load }
    }

    pub(crate) fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Waits until `n` events are acknowledged, for at most `secs` seconds.
    pub(crate) async fn until_acked(&self, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.acked() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} events acknowledged after {secs}s; refused: {:?}",
                self.acked(),
                self.refused.lock().unwrap().iter().rev().take(5).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Takes a hook URL out of the rotation.
    pub(crate) fn remove(&self, hook: &str) {
        self.rotation.write().unwrap().retain(|h| h != hook);
    }

    /// Stops the senders; answers the acknowledged event ids and the refused requests.
    pub(crate) async fn finish(self) -> (Vec<String>, Vec<(String, String)>) {
        self.stop.store(true, Ordering::SeqCst);
        for s in self.senders {
            tokio::time::timeout(Duration::from_secs(60), s)
                .await
                .expect("the senders stop")
                .unwrap();
        }
        let acked = self.acked.lock().unwrap().clone();
        let refused = self.refused.lock().unwrap().clone();
        (acked, refused)
    }
}

/// The step calls a peer received: by idempotency key, the event named in the body and the arrivals.
#[derive(Default)]
pub(crate) struct Calls {
    pub(crate) by_key: HashMap<String, (String, Vec<Arrival>)>,
}

/// One arrival of a call at the peer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    at: Instant,
    conn: Conn,
}

impl Calls {
    pub(crate) fn take(&mut self, peer: &mut Peer) {
        for r in peer.drain() {
            let key = r.header("idempotency-key").expect("an Idempotency-Key").to_owned();
            let event = r.json()["event"].as_str().expect("the event id in the body").to_owned();
            let entry = self.by_key.entry(key).or_insert_with(|| (event.clone(), Vec::new()));
            assert_eq!(entry.0, event, "one idempotency key for two events");
            entry.1.push(Arrival { at: r.at, conn: r.conn });
        }
    }

    pub(crate) fn events(&self) -> HashSet<&str> {
        self.by_key.values().map(|(event, _)| event.as_str()).collect()
    }

    /// Keys that arrived more than once, with their arrivals.
    pub(crate) fn repeated(&self) -> Vec<(&str, &[Arrival])> {
        self.by_key
            .iter()
            .filter(|(_, (_, at))| at.len() > 1)
            .map(|(key, (_, at))| (key.as_str(), at.as_slice()))
            .collect()
    }
}

/// A connector whose one step posts the event's id to `peer`; answers its id and the hook path.
pub(crate) async fn connector(client: &reqwest::Client, base: &str, token: &str, peer: &str) -> (String, String) {
    let r = client
        .post(format!("{base}/api/v1/connectors"))
        .bearer_auth(token)
        .json(&json!({"name": "Cluster", "config": {"steps": [
            {"id": "call", "type": "http_request", "method": "POST", "url": format!("{peer}/call"),
             "body": {"event": "{{ event.id }}"}}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    let url = c["url"].as_str().unwrap();
    let path = &url[url.find("/hooks/").expect("a hook URL")..];
    (c["id"].as_str().unwrap().to_owned(), path.to_owned())
}

/// Waits until every event the connector received has finished and at least `acked` were
/// received; answers the lifetime counts.
pub(crate) async fn all_finished(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    connector: &str,
    acked: usize,
    secs: u64,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let stats: Value = client
            .get(format!("{base}/api/v1/connectors/{connector}/stats"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let counts = &stats["lifetime"];
        let count = |name: &str| counts[name].as_u64().unwrap() as usize;
        let received = count("received");
        let finished = count("succeeded") + count("failed") + count("filtered") + count("rejected");
        assert!(finished <= received, "an execution finished twice: {counts}");
        if received >= acked && finished == received {
            return counts.clone();
        }
        assert!(
            Instant::now() < deadline,
            "after {secs}s, {finished} of {received} events have finished ({acked} acknowledged)"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every event of a connector with its status, from the event log.
async fn statuses(client: &reqwest::Client, base: &str, token: &str, connector: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = client
            .get(format!("{base}/api/v1/connectors/{connector}/events"))
            .bearer_auth(token)
            .query(&[("limit", "500")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let page: Value = req.send().await.unwrap().json().await.unwrap();
        for e in page["data"].as_array().unwrap() {
            out.insert(
                e["id"].as_str().unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned(),
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// Every acknowledged event succeeded and its step call reached the peer.
pub(crate) async fn assert_every_acked_succeeded(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    connector: &str,
    acked: &[String],
    calls: &Calls,
) {
    let statuses = statuses(client, base, token, connector).await;
    let called = calls.events();
    let mut unique = HashSet::new();
    for id in acked {
        assert!(unique.insert(id), "{id} was acknowledged twice");
        match statuses.get(id).map(String::as_str) {
            Some("succeeded") => {}
            Some(other) => panic!("acknowledged event {id} ended {other}"),
            None => panic!("acknowledged event {id} was lost"),
        }
        assert!(called.contains(id.as_str()), "the step call of {id} never arrived");
    }
    // Every event the log holds made its call, acknowledged or not (a request cut by a kill).
    assert_eq!(
        called.len(),
        statuses.len(),
        "step calls for {} events, {} events in the log",
        called.len(),
        statuses.len()
    );
    assert_eq!(calls.by_key.len(), statuses.len(), "one key per execution");
}

/// The node SIGKILLed in [`three_nodes`]: when, and which connections to the peer were its own.
struct Killed {
    at: Instant,
    /// The local ports of its TCP sockets, read while it was stopped just before the kill.
    ports: HashSet<u16>,
    /// Its connections had all been accepted by then: a later connection is another node's.
    accepted: u64,
}

impl Killed {
    /// Stops node `i` (SIGSTOP), reads its sockets, lets the peer accept any connection the node
    /// opened, then SIGKILLs it.
    async fn node(nodes: &mut Nodes, i: usize) -> Self {
        let pid = nodes.pid(i);
        signal(pid, "-STOP").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ports = tcp_ports(pid);
        let accepted = connections_accepted();
        nodes.children[i].start_kill().unwrap();
        let at = Instant::now();
        nodes.children[i].wait().await.unwrap();
        Self { at, ports, accepted }
    }

    /// Whether the killed node sent what arrived on `conn`.
    fn sent(&self, conn: &Conn) -> bool {
        conn.serial <= self.accepted && self.ports.contains(&conn.from.port())
    }
}

/// Sends `signal` (`-STOP`, `-TERM`) to process `pid`.
async fn signal(pid: u32, signal: &str) {
    let status = tokio::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}: {status}");
}

/// The local ports of the IPv4 TCP sockets process `pid` holds (Linux: its fds and `/proc/net/tcp`).
fn tcp_ports(pid: u32) -> HashSet<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap();
    // Each row: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            let port = fields.get(1)?.rsplit_once(':')?.1;
            inodes
                .contains(*fields.get(9)?)
                .then(|| u16::from_str_radix(port, 16).ok())
                .flatten()
        })
        .collect()
}

/// What [`three_nodes`] saw. It keeps the nodes, so a failing check prints their logs.
struct ClusterRun {
    calls: Calls,
    killed: Option<Killed>,
    acked: usize,
    _nodes: Nodes,
}

/// Three nodes on one PostgreSQL database take `events` events round-robin; with `kill`, the
/// third is SIGKILLed once half of them are acknowledged.
async fn three_nodes(events: usize, kill: bool) -> Option<ClusterRun> {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDatabase::postgres().await?;
    let started = Instant::now();
    let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
    let mut peer = Peer::start(Reply::json(200, json!({"ok": true}))).await;
    let mut nodes = Nodes::new();
    let slots = SLOTS.to_string();
    for _ in 0..3 {
        nodes
            .start(&db.url, &[("HOOKFLOW_LEASE", LEASE), ("HOOKFLOW_WORKERS", &slots)])
            .await;
    }
    let client = reqwest::Client::new();
    let (connector, path) = connector(&client, &nodes.bases[0], &token, &peer.base).await;
    let hooks: Vec<String> = nodes.bases.iter().map(|b| format!("{b}{path}")).collect();

    let load = Load::start(hooks.clone(), 32, events);
    let mut killed = None;
    if kill {
        load.until_acked(events / 2, 120).await;
        killed = Some(Killed::node(&mut nodes, 2).await);
        load.remove(&hooks[2]);
        eprintln!(
            "killed node 2 after {:.1}s with {} acknowledged",
            started.elapsed().as_secs_f64(),
            load.acked()
        );
    }
    load.until_acked(events, 150).await;
    let (acked, refused) = load.finish().await;
    let ingested = started.elapsed();
    assert_eq!(acked.len(), events);
    // Only the killed node may leave a request unanswered.
    let survivors_refused: Vec<_> = refused.iter().filter(|(url, _)| !kill || *url != hooks[2]).collect();
    assert!(
        survivors_refused.is_empty(),
        "a running node refused events: {survivors_refused:?}"
    );

    let base = &nodes.bases[0];
    let counts = all_finished(&client, base, &token, &connector, events, 180).await;
    let mut calls = Calls::default();
    calls.take(&mut peer);
    assert_every_acked_succeeded(&client, base, &token, &connector, &acked, &calls).await;
    eprintln!(
        "{events} events on three nodes{}: ingested in {:.1}s, all finished after {:.1}s; {counts}; \
         {} requests refused",
        if kill { ", one killed" } else { "" },
        ingested.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        refused.len()
    );
    for i in 0..2 {
        assert!(nodes.running(i), "node {i} stopped:\n{}", nodes.log(i));
    }
    Some(ClusterRun {
        calls,
        killed,
        acked: acked.len(),
        _nodes: nodes,
    })
}

/// Without a fault, every step call of every event arrives exactly once, whichever of the three
/// nodes took the event and whichever ran it.
#[tokio::test]
async fn three_nodes_call_every_key_exactly_once() {
    let Some(ClusterRun {
        calls, acked, _nodes, ..
    }) = three_nodes(1_000, false).await
    else {
        return;
    };
    assert_eq!(calls.by_key.len(), acked, "events beyond the acknowledged ones");
    let repeated = calls.repeated();
    assert!(
        repeated.is_empty(),
        "{} keys arrived more than once without a fault, e.g. {:?}",
        repeated.len(),
        &repeated[..repeated.len().min(5)]
    );
}

/// 5,000 events across three nodes, one SIGKILLed midway: every acknowledged event's execution
/// succeeds, every call arrives, and a call arrives twice only if the killed node had it in flight.
#[tokio::test]
async fn three_nodes_one_killed_lose_nothing() {
    let Some(ClusterRun {
        calls, killed, _nodes, ..
    }) = three_nodes(5_000, true).await
    else {
        return;
    };
    let killed = killed.expect("a node was killed");
    let repeated = calls.repeated();
    eprintln!(
        "{} keys arrived twice; the killed node had {} sockets",
        repeated.len(),
        killed.ports.len()
    );
    let describe = |a: &Arrival| {
        let after = a.at.duration_since(killed.at).as_secs_f64() - killed.at.duration_since(a.at).as_secs_f64();
        let from = if killed.sent(&a.conn) {
            "the killed node"
        } else {
            "a survivor"
        };
        format!("{after:+.3}s from the kill, from {from} (port {})", a.conn.from.port())
    };
    for (key, at) in &repeated {
        let arrivals: Vec<String> = at.iter().map(describe).collect();
        eprintln!("  {key}: {}", arrivals.join("; "));
    }
    assert!(
        repeated.len() <= SLOTS,
        "{} keys arrived more than once; the killed node had only {SLOTS} worker slots",
        repeated.len()
    );
    for (key, at) in &repeated {
        assert_eq!(at.len(), 2, "{key} arrived {} times", at.len());
        assert!(
            killed.sent(&at[0].conn) && !killed.sent(&at[1].conn),
            "{key} arrived twice, but not first from the killed node and then from a survivor: {}; {}",
            describe(&at[0]),
            describe(&at[1])
        );
    }
}

/// SIGTERM while events keep arriving and executions are calling a slow peer: the node exits 0
/// within its grace period, and after a restart every acknowledged event's call has arrived once.
#[tokio::test]
async fn sigterm_under_load_exits_zero_and_loses_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const GRACE: Duration = Duration::from_secs(5);
    for db in TestDatabase::all().await {
        let label = db.label;
        let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
        let mut peer = Peer::start(Reply {
            delay: Duration::from_millis(200),
            ..Reply::json(200, json!({"ok": true}))
        })
        .await;
        let env = [("HOOKFLOW_SHUTDOWN_GRACE", "5s")];
        let mut nodes = Nodes::new();
        nodes.start(&db.url, &env).await;
        let client = reqwest::Client::new();
        let (connector, path) = connector(&client, &nodes.bases[0], &token, &peer.base).await;

        let load = Load::start(vec![format!("{}{path}", nodes.bases[0])], 8, usize::MAX);
        load.until_acked(300, 60).await;
        // Executions are calling the peer when the signal comes.
        let mut calls = Calls::default();
        let deadline = Instant::now() + Duration::from_secs(30);
        while calls.by_key.len() < 20 {
            assert!(Instant::now() < deadline, "{label}: the executions do not run");
            calls.take(&mut peer);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let signalled = Instant::now();
        calls.take(&mut peer);
        // The peer answers 200 ms after a call arrives: these are in flight now.
        let in_flight = calls
            .by_key
            .values()
            .filter(|(_, at)| at[0].at + Duration::from_millis(200) > signalled)
            .count();
        signal(nodes.pid(0), "-TERM").await;
        let status = tokio::time::timeout(GRACE + Duration::from_secs(3), nodes.children[0].wait())
            .await
            .unwrap_or_else(|_| panic!("{label}: the node did not exit within its grace period and 3s"))
            .unwrap();
        let stopping = signalled.elapsed();
        assert_eq!(status.code(), Some(0), "{label}: {status}\n{}", nodes.log(0));
        let (acked, _) = load.finish().await;
        eprintln!(
            "{label}: exit 0 {:.2}s after SIGTERM, {} events acknowledged, {} calls made, {in_flight} in flight",
            stopping.as_secs_f64(),
            acked.len(),
            calls.by_key.len()
        );
        assert!(
            in_flight > 0,
            "{label}: no call was in flight at the signal; the test proves nothing"
        );

        let i = nodes.start(&db.url, &env).await;
        let base = nodes.bases[i].clone();
        all_finished(&client, &base, &token, &connector, acked.len(), 120).await;
        calls.take(&mut peer);
        assert_every_acked_succeeded(&client, &base, &token, &connector, &acked, &calls).await;
        let repeated = calls.repeated();
        assert!(
            repeated.is_empty(),
            "{label}: {} calls arrived twice across a graceful shutdown",
            repeated.len()
        );
        eprintln!(
            "{label}: all {} done {:.1}s after the restart",
            acked.len(),
            signalled.elapsed().as_secs_f64()
        );
    }
}

/// A lease under a second is refused with a message naming the flag.
#[tokio::test]
async fn a_lease_under_a_second_is_refused() {
    let db = TestDatabase::sqlite();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookflow"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db.url,
            "--lease",
            "500ms",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("hookflow exits")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("bad --lease") && stderr.contains("at least 1s"),
        "{stderr}"
    );
}
