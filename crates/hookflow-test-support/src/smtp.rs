//! A real SMTP server for tests: Python's aiosmtpd (`python/smtp_sink.py`),
//! run by the interpreter `HOOKFLOW_TEST_PYTHON` names.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The environment variable naming a Python that has `aiosmtpd`
/// (`pip install aiosmtpd`), e.g. `python3`. Unset, SMTP tests are skipped.
pub const PYTHON_ENV: &str = "HOOKFLOW_TEST_PYTHON";

/// An SMTP server on `127.0.0.1` that records every message it accepts. It
/// stops when dropped.
pub struct SmtpSink {
    port: u16,
    messages: mpsc::UnboundedReceiver<serde_json::Value>,
    _child: Child,
}

impl SmtpSink {
    /// Starts the sink, or returns `None` (with a line saying the test is
    /// skipped) when `HOOKFLOW_TEST_PYTHON` is unset. Panics when it is set
    /// but the sink does not start: the run asked for the test.
    pub async fn start() -> Option<SmtpSink> {
        let Ok(python) = std::env::var(PYTHON_ENV) else {
            eprintln!("{PYTHON_ENV} is not set: the SMTP test is skipped");
            return None;
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/smtp_sink.py");
        let mut child = Command::new(&python)
            .arg("-u")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {python} {script}: {e}"));
        let stdout = child.stdout.take().expect("the sink's stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("the SMTP sink did not say its port within 20s"))
            .expect("read the SMTP sink's output")
            .unwrap_or_else(|| panic!("the SMTP sink exited at once: does {python} have aiosmtpd?"));
        let port = first
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink's first line is not `PORT <n>`: {first:?}"));
        let (tx, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let message = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("the SMTP sink printed a line that is not JSON ({e}): {line}"));
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        Some(SmtpSink {
            port,
            messages,
            _child: child,
        })
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The next message received, `{"mail_from", "rcpt_tos", "data"}` (data
    /// is the raw message), or `None` when none arrives within `timeout`.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        tokio::time::timeout(timeout, self.messages.recv()).await.ok().flatten()
    }
}
