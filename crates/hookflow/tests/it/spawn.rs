//! The `hookflow` binary as a child process: `workspace create`, and `serve` with its log kept
//! where a test wants it and its address read from that log (stdout carries only data).

use std::process::Stdio;

use hookflow_test_support::TestDatabase;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_hookflow");

/// `hookflow workspace create` through the binary; answers its JSON.
pub(crate) async fn cli_workspace(db: &TestDatabase) -> Value {
    cli_workspace_at(&db.url).await
}

/// `cli_workspace` on a database named by its URL.
pub(crate) async fn cli_workspace_at(database: &str) -> Value {
    let out = Command::new(BIN)
        .args(["workspace", "create", "acme", "--database", database])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Where a served process's log (its stderr) goes.
pub(crate) enum Log {
    /// To the test's stderr.
    Inherit,
    /// To a file the test reads.
    File(std::fs::File),
}

/// `serve_with` on a database named by its URL.
pub(crate) async fn serve_at(database: &str, log: &str, to: Log, env: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .env("RUST_LOG", log)
        .env("HOOKFLOW_ALLOW_NETWORKS", "127.0.0.1/32")
        .envs(env.iter().copied());
    spawn_serve(command, to).await
}

/// Starts a command that runs `hookflow serve` (perhaps through a shell), its log going `to`;
/// answers the child, its stdout piped and unread, and the base URL its log announced. Whatever
/// the command's log filter, it lets the announcement through (`hookflow::listening=info`).
pub(crate) async fn spawn_serve(mut command: Command, to: Log) -> (Child, String) {
    let filter = command
        .as_std()
        .get_envs()
        .find(|(name, _)| *name == "RUST_LOG")
        .and_then(|(_, value)| value.map(|v| v.to_string_lossy().into_owned()))
        .or_else(|| std::env::var("RUST_LOG").ok());
    if let Some(filter) = filter {
        command.env("RUST_LOG", format!("{filter},hookflow::listening=info"));
    }
    command.stdout(Stdio::piped()).kill_on_drop(true);
    match &to {
        Log::Inherit => command.stderr(Stdio::piped()),
        Log::File(file) => command.stderr(file.try_clone().unwrap()),
    };
    let mut child = command.spawn().expect("start hookflow serve");
    let announced = async {
        match to {
            // Passed on line by line to the test's stderr.
            Log::Inherit => {
                let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
                while let Some(line) = lines.next_line().await.unwrap() {
                    eprintln!("{line}");
                    if let Some(url) = announced_url(&line) {
                        tokio::spawn(async move {
                            while let Ok(Some(line)) = lines.next_line().await {
                                eprintln!("{line}");
                            }
                        });
                        return url;
                    }
                }
                panic!("hookflow serve exited without announcing its address");
            }
            // Opened again to be read (Linux), apart from the offset the process writes at.
            Log::File(file) => loop {
                let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
                let text = std::fs::read(path).unwrap();
                if let Some(url) = String::from_utf8_lossy(&text).lines().find_map(announced_url) {
                    return url;
                }
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("hookflow serve exited ({status}) without announcing its address");
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            },
        }
    };
    let url = tokio::time::timeout(std::time::Duration::from_secs(20), announced)
        .await
        .expect("hookflow announced its address in time");
    (child, url)
}

/// The base URL of `hookflow serve`'s `Listening.` line, in text or JSON, colored or not.
fn announced_url(line: &str) -> Option<String> {
    if !line.contains("Listening.") {
        return None;
    }
    let at = line.find("http://")?;
    let url: String = line[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\u{1b}')
        .collect();
    Some(url)
}
