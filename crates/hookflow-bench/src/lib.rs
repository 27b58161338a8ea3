//! Helpers for `bench/run`, the benchmark of hookflow against a bare HTTP
//! baseline. Two small binaries, no library API worth depending on:
//!
//! - `bench-baseline --listen ADDR`: a bare axum server that answers
//!   `POST /hook` with a fixed small JSON body and does nothing else. It is
//!   the ceiling any HTTP service reaches on the machine of the run.
//! - `bench-sink --listen ADDR`: the receiver of the end-to-end benchmark.
//!   It counts `POST /sink` requests and, from the `sent_at` field of each
//!   body (Unix milliseconds, stamped by the load generator and rendered by
//!   hookflow from `{{ event.body.sent_at }}`), the latency from ingest to
//!   receipt. `GET /stats` answers the count, the first and last receipt
//!   times and the latency percentiles as JSON; `POST /reset` starts over.
//!
//! Both print `listening on http://ADDR` as their first line of stdout.

use std::net::SocketAddr;

/// The `--listen ADDR` argument of a bench binary, `127.0.0.1:0` by default.
///
/// Exits the process with a message on anything else on the command line.
pub fn listen_arg() -> SocketAddr {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:0".to_owned();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(value)) => listen = value,
            _ => {
                eprintln!("usage: {} [--listen ADDR]", std::env::args().next().unwrap_or_default());
                std::process::exit(2);
            }
        }
    }
    match listen.parse() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("--listen {listen}: {error}");
            std::process::exit(2);
        }
    }
}

/// Binds `addr` and prints the bound address as the first line of stdout.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    Ok(listener)
}

/// The value at quantile `q` (0 to 1) of sorted `values`, nearest rank; 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_is_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), 50);
        assert_eq!(percentile(&values, 0.99), 99);
        assert_eq!(percentile(&values, 1.0), 100);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[7], 0.99), 7);
    }
}
