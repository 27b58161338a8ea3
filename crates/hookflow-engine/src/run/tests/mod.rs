//! The runner without a database: an in-memory `Runs` ([`fake::Fake`]) keeps the journal, and a
//! real HTTP peer on 127.0.0.1 answers the actions. A "crash" is a run dropped after some of its
//! writes; the next run starts from what the fake's journal kept, as the next claim would.

mod fake;
mod peer;

use hookflow_core::{ConnectorId, ExecutionId, StepStatus, Timestamp, WorkspaceId};
use hookflow_expr::Templates;
use serde_json::{json, Value};

use super::{Flow, Live, Mode, Run, Stores};
use crate::steps::Compiled;
use crate::store::{StepRecord, StoreError};
use fake::Fake;
use peer::Peer;

struct Harness {
    peer: Peer,
    client: hookflow_delivery::Client,
    metrics: crate::metrics::Metrics,
    templates: Templates,
    ws: WorkspaceId,
    connector: ConnectorId,
    execution: ExecutionId,
}

/// How a run ended, as the executor sees it.
struct Ran {
    flow: Flow,
    /// The `steps` root at the end.
    steps: Value,
    /// The keys of the entries still pending at the end, which the executor writes with it.
    pending: Vec<String>,
}

impl Harness {
    async fn new() -> Harness {
        let guard = hookflow_delivery::Guard::parse("127.0.0.1/32").unwrap();
        Harness {
            peer: Peer::start().await,
            client: hookflow_delivery::Client::new(guard, "hookflow-test"),
            metrics: crate::metrics::Metrics::default(),
            templates: Templates::new(),
            ws: WorkspaceId::new(),
            connector: ConnectorId::new(),
            execution: ExecutionId::new(),
        }
    }

    fn compile(&self, steps: Value) -> Compiled {
        crate::steps::compile(&json!({ "steps": steps }), &self.templates)
            .unwrap_or_else(|errors| panic!("the steps do not compile: {errors:?}"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.peer.base)
    }

    fn context(&self, event: Value) -> Value {
        crate::executor::execution_context(event, &self.ws, "UTC", Timestamp::now())
    }

    /// Runs the steps live over `event`, resuming from `store`'s journal, and ends as the executor
    /// does: the entries still pending are written with the end (or the suspension).
    async fn run(&self, store: &Fake, compiled: &Compiled, event: Value) -> Result<Ran, StoreError> {
        let live = Live {
            client: &self.client,
            events: store,
            metrics: &self.metrics,
            connector: &self.connector,
        };
        let journal = store.entries();
        let stores = Stores {
            runs: store,
            contacts: store,
        };
        let mut run = Run::new(
            stores,
            &self.templates,
            self.ws.clone(),
            self.execution.clone(),
            Mode::Live(live),
            journal,
            self.context(event),
        );
        let flow = run.steps(&compiled.steps, "").await?;
        let pending = run.take_pending();
        if !pending.is_empty() {
            crate::store::Runs::record_steps(store, &pending).await?;
        }
        Ok(Ran {
            flow,
            steps: run.ctx["steps"].clone(),
            pending: keys(&pending),
        })
    }
}

fn keys(entries: &[StepRecord]) -> Vec<String> {
    entries.iter().map(|r| r.key.clone()).collect()
}

/// What a crash after the first `writes` writes of a run into `full` leaves of its journal.
fn written(full: &Fake, writes: usize) -> Vec<StepRecord> {
    let kept: Vec<String> = full.writes()[..writes].concat();
    full.entries().into_iter().filter(|r| kept.contains(&r.key)).collect()
}

/// A filter, an action, a counter, an action reading both, and an emitted event.
fn order(h: &Harness) -> Compiled {
    h.compile(json!([
        {"id": "orders_only", "type": "filter",
         "conditions": [{"left": "{{ event.kind }}", "op": "equals", "right": "order"}]},
        {"id": "first", "type": "http_request", "method": "POST", "url": h.url("/first"),
         "body": {"order": "{{ event.id }}"}},
        {"id": "count", "type": "storage", "operation": "increment", "key": "orders"},
        {"id": "second", "type": "http_request", "method": "POST", "url": h.url("/second"),
         "body": {"after": "{{ steps.first.body.n }}", "count": "{{ steps.count.value }}"}},
        {"id": "done", "type": "emit_event", "event_type": "order_done",
         "data": {"second": "{{ steps.second.body.n }}"}},
    ]))
}

#[tokio::test]
async fn a_run_resumes_after_each_step_without_running_finished_ones_again() {
    let h = Harness::new().await;
    let steps = order(&h);
    let event = json!({"kind": "order", "id": "o-1"});
    let full = Fake::default();
    let ran = h.run(&full, &steps, event.clone()).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    let journal = full.entries();
    assert_eq!(keys(&journal), ["orders_only", "first", "count", "second", "done"]);
    assert_eq!(journal.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    // An entry of a step without effects waits for the next write; every effect writes its own.
    assert_eq!(
        full.writes(),
        [
            vec!["orders_only", "first"],
            vec!["count"],
            vec!["second"],
            vec!["done"]
        ]
    );
    assert_eq!(full.stored("orders"), Some(json!(1)));
    assert_eq!(full.emitted(), [("custom.order_done".to_owned(), json!({"second": 2}))]);
    assert_eq!(h.peer.calls().len(), 2);

    // A crash loses what was not written yet: every state it can leave is what some first writes
    // wrote. (Entries of steps without effects are computed again; nothing outside saw them.)
    for crashed_after in 0..=full.writes().len() {
        let kept = &written(&full, crashed_after)[..];
        let had = |key: &str| kept.iter().any(|r| r.key == key);
        let store = Fake::with_journal(kept);
        if had("count") {
            store.put("orders", json!(1));
        }
        if had("done") {
            store.record_emitted("custom.order_done", json!({"second": 2}));
        }
        let (first, second) = (h.peer.calls_to("/first").len(), h.peer.calls_to("/second").len());

        let ran = h.run(&store, &steps, event.clone()).await.unwrap();

        let at = format!("crashed after {crashed_after} writes");
        assert_eq!(ran.flow, Flow::Continue, "{at}");
        assert_eq!(store.keys(), keys(&journal), "{at}");
        // A finished step is not run again: each request went out once, the counter counted
        // once and the event was emitted once.
        assert_eq!(
            h.peer.calls_to("/first").len() - first,
            usize::from(!had("first")),
            "{at}"
        );
        assert_eq!(
            h.peer.calls_to("/second").len() - second,
            usize::from(!had("second")),
            "{at}"
        );
        assert_eq!(store.stored("orders"), Some(json!(1)), "{at}");
        assert_eq!(store.emitted().len(), 1, "{at}");
        // Its entry stays as it was, and its output is what later steps read.
        for old in kept {
            assert_eq!(&store.entry(&old.key), old, "{at}");
            assert_eq!(ran.steps[&old.step_id], old.output, "{at}");
        }
        if had("first") && !had("second") {
            let call = h.peer.calls_to("/second").pop().unwrap();
            assert_eq!(call.body["after"], journal[1].output["body"]["n"], "{at}");
            assert_eq!(call.body["count"], json!(1), "{at}");
        }
    }
}

#[tokio::test]
async fn a_failed_write_drops_the_run_and_the_next_resumes_after_the_last_write() {
    let h = Harness::new().await;
    let steps = order(&h);
    let event = json!({"kind": "order", "id": "o-2"});
    let store = Fake::default();
    // The second write is the counter's change with its entry.
    store.fail_write(1);
    let dropped = h.run(&store, &steps, event.clone()).await;
    assert!(dropped.is_err());
    assert_eq!(store.keys(), ["orders_only", "first"]);
    assert_eq!(store.stored("orders"), None);
    assert_eq!(h.peer.calls_to("/second").len(), 0);

    let ran = h.run(&store, &steps, event).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    assert_eq!(store.keys(), ["orders_only", "first", "count", "second", "done"]);
    assert_eq!(h.peer.calls_to("/first").len(), 1);
    assert_eq!(h.peer.calls_to("/second").len(), 1);
    assert_eq!(store.stored("orders"), Some(json!(1)));
    assert_eq!(store.emitted().len(), 1);
}

#[tokio::test]
async fn a_delay_suspends_with_a_waiting_entry_and_resumes_after() {
    let h = Harness::new().await;
    let steps = h.compile(json!([
        {"id": "before", "type": "http_request", "url": h.url("/before")},
        {"id": "wait", "type": "delay", "for": "1h"},
        {"id": "after", "type": "http_request", "url": h.url("/after")},
    ]));
    let store = Fake::default();
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    let Flow::Suspend(until) = ran.flow else {
        panic!("expected a suspension, got {:?}", ran.flow);
    };
    assert!(until > Timestamp::now().plus_millis(3_590_000), "{until}");
    // The waiting entry is written with the suspension.
    assert_eq!(ran.pending, ["wait"]);
    let waiting = store.entry("wait");
    assert_eq!(waiting.status, StepStatus::Waiting);
    assert_eq!(waiting.input, json!({"for": "3600s"}));
    assert_eq!(waiting.output, json!({"until": until.to_rfc3339()}));
    assert_eq!(h.peer.calls_to("/after").len(), 0);

    // Woken early, it waits on until the same time, and runs nothing again.
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    assert_eq!(ran.flow, Flow::Suspend(until));
    assert_eq!(store.entry("wait"), waiting);
    assert_eq!(h.peer.calls_to("/before").len(), 1);
    assert_eq!(h.peer.calls_to("/after").len(), 0);

    // Once the time has come, it resumes.
    let due = Timestamp::now().plus_millis(-1_000);
    store.edit("wait", |r| r.output["until"] = json!(due.to_rfc3339()));
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    let resumed = store.entry("wait");
    assert_eq!(resumed.status, StepStatus::Succeeded);
    assert_eq!(resumed.output, json!({"until": due.to_rfc3339()}));
    assert_eq!((resumed.seq, resumed.started_at), (waiting.seq, waiting.started_at));
    assert_eq!(ran.steps["wait"], resumed.output);
    assert_eq!(h.peer.calls_to("/before").len(), 1);
    assert_eq!(h.peer.calls_to("/after").len(), 1);
}

#[tokio::test]
async fn an_action_that_fails_for_now_is_tried_again_with_the_same_idempotency_key() {
    let h = Harness::new().await;
    h.peer.script("/flaky", &[503]);
    let steps = h.compile(json!([
        {"id": "call", "type": "http_request", "method": "POST", "url": h.url("/flaky"), "body": {"x": 1},
         "retry": {"attempts": 3, "initial_delay": "1s", "max_delay": "2s"}},
        {"id": "next", "type": "http_request", "url": h.url("/next")},
    ]));
    let store = Fake::default();
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    let Flow::Retry { at, reason } = ran.flow else {
        panic!("expected a retry, got {:?}", ran.flow);
    };
    assert!(at > Timestamp::now(), "{at}");
    assert!(reason.contains("503"), "{reason}");
    let retrying = store.entry("call");
    assert_eq!((retrying.status, retrying.attempts), (StepStatus::Retrying, 1));
    assert!(
        retrying.error.as_deref().unwrap().starts_with("attempt 1 of 3: "),
        "{retrying:?}"
    );
    assert_eq!(retrying.attempt_log.len(), 1);
    assert_eq!(retrying.attempt_log[0]["status"], 503);
    assert_eq!(h.peer.calls_to("/next").len(), 0);

    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    let done = store.entry("call");
    assert_eq!(
        (done.status, done.attempts, done.seq),
        (StepStatus::Succeeded, 2, retrying.seq)
    );
    assert_eq!(done.error, None);
    let statuses: Vec<&Value> = done.attempt_log.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(503), &json!(200)]);
    assert_eq!(done.output["body"], json!({"n": 2}));
    let calls = h.peer.calls_to("/flaky");
    assert_eq!(calls.len(), 2);
    let key = format!("{}:call", h.execution);
    assert!(
        calls.iter().all(|c| c.idempotency_key.as_deref() == Some(key.as_str())),
        "{calls:?}"
    );
    assert_eq!(h.peer.calls_to("/next").len(), 1);

    // Finished, it is not sent again.
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    assert_eq!(h.peer.calls().len(), 3);
}

#[tokio::test]
async fn an_action_gives_up_after_its_attempts() {
    let h = Harness::new().await;
    h.peer.script("/down", &[503, 503]);
    let steps = h.compile(json!([
        {"id": "call", "type": "http_request", "url": h.url("/down"),
         "retry": {"attempts": 2, "initial_delay": "1s", "max_delay": "1s"}},
        {"id": "next", "type": "http_request", "url": h.url("/next")},
    ]));
    let store = Fake::default();
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    assert!(matches!(ran.flow, Flow::Retry { .. }), "{:?}", ran.flow);
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    let Flow::Fail(message) = ran.flow else {
        panic!("expected a failure, got {:?}", ran.flow);
    };
    assert!(
        message.starts_with("step `call`: gave up after 2 attempts: "),
        "{message}"
    );
    let failed = store.entry("call");
    assert_eq!((failed.status, failed.attempts), (StepStatus::Failed, 2));
    assert_eq!(failed.attempt_log.len(), 2);
    assert_eq!(h.peer.calls_to("/down").len(), 2);
    assert_eq!(h.peer.calls_to("/next").len(), 0);
}

#[tokio::test]
async fn a_failed_action_fails_the_run_and_is_not_sent_again() {
    let h = Harness::new().await;
    h.peer.script("/bad", &[400]);
    let steps = h.compile(json!([
        {"id": "call", "type": "http_request", "method": "POST", "url": h.url("/bad"), "body": {"x": 1}},
        {"id": "next", "type": "http_request", "url": h.url("/next")},
    ]));
    let store = Fake::default();
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    let Flow::Fail(message) = ran.flow else {
        panic!("expected a failure, got {:?}", ran.flow);
    };
    assert!(message.starts_with("step `call`: "), "{message}");
    assert!(message.contains("400"), "{message}");
    // The request went out: its entry was written at once, not left for the end.
    assert_eq!(store.writes(), [vec!["call"]]);
    assert!(ran.pending.is_empty());
    let failed = store.entry("call");
    assert_eq!((failed.status, failed.attempts), (StepStatus::Failed, 1));
    assert_eq!(failed.attempt_log[0]["status"], 400);
    assert_eq!(ran.steps["call"], Value::Null);
    assert_eq!(h.peer.calls_to("/next").len(), 0);

    // Run again, it fails with the journal's error and sends nothing.
    let ran = h.run(&store, &steps, json!({})).await.unwrap();
    assert_eq!(ran.flow, Flow::Fail(failed.error.clone().unwrap()));
    assert_eq!(store.entry("call"), failed);
    assert_eq!(h.peer.calls().len(), 1);
}

fn routes(h: &Harness) -> Compiled {
    let over = |op: &str| json!({"conditions": [{"left": "{{ event.total }}", "op": op, "right": "100"}]});
    h.compile(json!([
        {"id": "route", "type": "paths", "branches": [
            {"name": "big", "when": over("gt"), "steps": [
                {"id": "vip", "type": "http_request", "url": h.url("/vip")},
                {"id": "thanks", "type": "http_request", "url": h.url("/thanks")}]},
            {"name": "small", "when": over("lt"), "steps": [
                {"id": "regular", "type": "http_request", "url": h.url("/regular")}]}],
         "otherwise": [{"id": "exactly", "type": "http_request", "url": h.url("/exactly")}]},
        {"id": "after", "type": "http_request", "url": h.url("/after")},
    ]))
}

#[tokio::test]
async fn paths_run_the_matching_branch_and_resume_it_without_deciding_again() {
    let h = Harness::new().await;
    let steps = routes(&h);
    let full = Fake::default();
    let ran = h.run(&full, &steps, json!({"total": 500})).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    assert_eq!(ran.steps["route"], json!({"matched": ["big"], "otherwise": false}));
    assert_eq!(full.keys(), ["route", "vip", "thanks", "after"]);
    assert_eq!(full.writes(), [vec!["route", "vip"], vec!["thanks"], vec!["after"]]);
    let calls: Vec<String> = h.peer.calls().into_iter().map(|c| c.path).collect();
    assert_eq!(calls, ["/vip", "/thanks", "/after"]);

    // Crashed inside the branch, and run over an event that would now take another branch: the
    // decision is read back, and the branch resumes past what it finished.
    let journal = full.entries();
    let store = Fake::with_journal(&written(&full, 1));
    let ran = h.run(&store, &steps, json!({"total": 5})).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    assert_eq!(ran.steps["route"]["matched"], json!(["big"]));
    assert_eq!(store.entry("route"), journal[0]);
    let calls: Vec<String> = h.peer.calls().into_iter().map(|c| c.path).collect();
    assert_eq!(calls, ["/vip", "/thanks", "/after", "/thanks", "/after"]);

    // Fresh, the same event decides by itself.
    for (total, path) in [(5, "/regular"), (100, "/exactly")] {
        let store = Fake::default();
        let ran = h.run(&store, &steps, json!({"total": total})).await.unwrap();
        assert_eq!(ran.flow, Flow::Continue);
        assert_eq!(h.peer.calls_to(path).len(), 1, "{path}");
    }
    assert_eq!(h.peer.calls_to("/vip").len(), 1);
}

#[tokio::test]
async fn an_iterator_runs_its_steps_per_element_and_resumes_within_an_element() {
    let h = Harness::new().await;
    let steps = h.compile(json!([
        {"id": "each", "type": "iterator", "over": "{{ event.items }}", "steps": [
            {"id": "not_b", "type": "filter", "conditions": [{"left": "{{ item }}", "op": "not_equals", "right": "b"}]},
            {"id": "send", "type": "http_request", "method": "POST", "url": h.url("/send"),
             "body": {"item": "{{ item }}", "index": "{{ index }}"}}]},
        {"id": "after", "type": "http_request", "url": h.url("/after")},
    ]));
    let event = json!({"items": ["a", "b", "c", "d"]});
    let full = Fake::default();
    let ran = h.run(&full, &steps, event.clone()).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    let journal = full.entries();
    assert_eq!(
        keys(&journal),
        [
            "each",
            "each[0].not_b",
            "each[0].send",
            "each[1].not_b",
            "each[2].not_b",
            "each[2].send",
            "each[3].not_b",
            "each[3].send",
            "after"
        ]
    );
    // The iterator's entry, first by start, is written with the next write after its loop.
    assert_eq!(
        full.writes(),
        [
            vec!["each[0].not_b", "each[0].send"],
            vec!["each[1].not_b", "each[2].not_b", "each[2].send"],
            vec!["each[3].not_b", "each[3].send"],
            vec!["each", "after"],
        ]
    );
    assert_eq!(full.entry("each[1].not_b").status, StepStatus::Filtered);
    let sent: Vec<Value> = h
        .peer
        .calls_to("/send")
        .into_iter()
        .map(|c| c.body["item"].clone())
        .collect();
    assert_eq!(sent, [json!("a"), json!("c"), json!("d")]);
    let each = ran.steps["each"].as_array().unwrap().clone();
    assert_eq!(each.len(), 4);
    assert_eq!(each[1], json!({"not_b": {"passed": false}}));
    assert_eq!(each[2]["send"]["body"], json!({"n": 2}));
    // The element's outputs are gone from the `steps` root once the loop is over.
    assert!(ran.steps.get("send").is_none());

    // Crashed after the third element's request: only the fourth is sent again.
    let store = Fake::with_journal(&written(&full, 2));
    let ran = h.run(&store, &steps, event).await.unwrap();
    assert_eq!(ran.flow, Flow::Continue);
    let sent: Vec<Value> = h
        .peer
        .calls_to("/send")
        .into_iter()
        .map(|c| c.body["item"].clone())
        .collect();
    assert_eq!(sent, [json!("a"), json!("c"), json!("d"), json!("d")]);
    let resumed = ran.steps["each"].as_array().unwrap();
    assert_eq!(resumed[..3], each[..3]);
    assert_eq!(resumed[3]["send"]["body"]["n"], json!(5));
    // The iterator's entry was never written before the crash: started again, it comes after
    // the entries that were.
    assert_eq!(
        store.keys(),
        [
            "each[0].not_b",
            "each[0].send",
            "each[1].not_b",
            "each[2].not_b",
            "each[2].send",
            "each",
            "each[3].not_b",
            "each[3].send",
            "after"
        ]
    );
}

#[tokio::test]
async fn a_simulation_writes_nothing_and_sends_nothing() {
    let h = Harness::new().await;
    let steps = order(&h);
    let store = Fake::default();
    store.put("orders", json!(41));
    let mut run = Run::new(
        Stores {
            runs: &store,
            contacts: &store,
        },
        &h.templates,
        h.ws.clone(),
        h.execution.clone(),
        Mode::Simulate,
        Vec::new(),
        h.context(json!({"kind": "order", "id": "o-3"})),
    );
    let flow = run.steps(&steps.steps, "").await.unwrap();
    assert_eq!(flow, Flow::Continue);
    assert!(run.take_pending().is_empty());
    assert_eq!(keys(&run.records), ["orders_only", "first", "count", "second", "done"]);
    assert_eq!(run.ctx["steps"]["count"], json!({"value": 42}));
    assert_eq!(run.ctx["steps"]["first"], json!({"simulated": true}));
    let effects: Vec<Value> = run
        .side_effects
        .iter()
        .map(|e| {
            json!([
                e["step"],
                e.get("request").map(|r| &r["url"]),
                e.get("storage"),
                e.get("emit")
            ])
        })
        .collect();
    assert_eq!(
        effects,
        [
            json!(["first", h.url("/first"), null, null]),
            json!(["count", null, "increment", null]),
            json!(["second", h.url("/second"), null, null]),
            json!(["done", null, null, "custom.order_done"]),
        ]
    );
    assert!(store.writes().is_empty());
    assert_eq!(store.stored("orders"), Some(json!(41)));
    assert!(store.emitted().is_empty());
    assert!(h.peer.calls().is_empty());
}
