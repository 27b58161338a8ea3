//! A bare axum server: `POST /hook` answers a fixed small JSON body.

use axum::{http::header, routing::post, Router};
use std::process::ExitCode;

const BODY: &str = r#"{"status":"accepted","event_id":"evt_baseline"}"#;

#[tokio::main]
async fn main() -> ExitCode {
    let addr = hookflow_bench::listen_arg();
    let app = Router::new().route(
        "/hook",
        post(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }),
    );
    let listener = match hookflow_bench::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: bind {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("error: serve: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
