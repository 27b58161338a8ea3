//! Delays are skipped (and recorded) in a simulation; the durable wait itself
//! is tested end to end in `engine.rs` and `process.rs`.

use expect_test::expect;

use super::{check, check_config, simulate};

#[tokio::test]
async fn a_fixed_date_is_recorded_and_skipped() {
    check(
        r#"[{"id": "until", "type": "delay", "until": "{{ event.body.remind_at }}"},
 {"id": "unix", "type": "delay", "until": "{{ event.body.unix }}"}]"#,
        r#"{"remind_at": "2030-01-02T03:04:05Z", "unix": 1893456000}"#,
        expect![[r#"
            status: succeeded
            until succeeded: {"until":"2030-01-02T03:04:05.000Z","skipped":true}
            unix succeeded: {"until":"2030-01-01T00:00:00.000Z","skipped":true}
            side effect: {"step":"until","delay_until":"2030-01-02T03:04:05.000Z"}
            side effect: {"step":"unix","delay_until":"2030-01-01T00:00:00.000Z"}
        "#]],
    )
    .await;
}

/// `for` and `at_time` depend on the clock: their due times are checked against it.
#[tokio::test]
async fn durations_and_times_of_day_count_from_now() {
    let before = jiff::Timestamp::now();
    let r = simulate(
        r#"[{"id": "wait", "type": "delay", "for": "2h"},
 {"id": "morning", "type": "delay", "at_time": "09:00", "timezone": "Asia/Kolkata"}]"#,
        "{}",
    )
    .await;
    let out: serde_json::Value = r.json().await.unwrap();
    let until = |i: usize| {
        out["steps"][i]["output"]["until"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    let wait = until(0).duration_since(before).as_secs();
    assert!((7200..7260).contains(&wait), "2h became {wait}s");
    let morning = until(1);
    let local = morning.to_zoned(jiff::tz::TimeZone::get("Asia/Kolkata").unwrap());
    assert_eq!((local.hour(), local.minute()), (9, 0));
    let ahead = morning.duration_since(before).as_secs();
    assert!((0..=86_400).contains(&ahead), "the next 09:00 is {ahead}s away");
    assert_eq!(out["side_effects"].as_array().unwrap().len(), 2, "{out}");
}

#[tokio::test]
async fn an_until_that_is_not_a_date_fails_the_step() {
    check(
        r#"[{"id": "until", "type": "delay", "until": "{{ event.body.remind_at }}"}]"#,
        r#"{"remind_at": "soon"}"#,
        expect![[r#"
        status: failed (step `until`: `until` gave "soon", which is not a date-time)
        until failed: null error=`until` gave "soon", which is not a date-time
    "#]],
    )
    .await;
}

#[tokio::test]
async fn bad_delays_are_refused_naming_the_step() {
    check_config(r#"[{"id": "a", "type": "delay"},
 {"id": "b", "type": "delay", "for": "5 fortnights"},
 {"id": "c", "type": "delay", "for": "1h", "until": "2030-01-01"},
 {"id": "d", "type": "delay", "at_time": "25:00"},
 {"id": "e", "type": "delay", "at_time": "09:00", "timezone": "Mars/Olympus"},
 {"id": "f", "type": "delay", "until": "{{ event.body.x "}]"#, expect![[r#"
     steps[0]: step `a`: a delay needs exactly one of `for` (a duration like 15m), `until` (a date-time) or `at_time` (HH:MM with a timezone)
     steps[1].for: step `b`: `5 fortnights` is not a duration: unknown unit `fortnights` (ms, s, m, h, d, w)
     steps[2]: step `c`: a delay needs exactly one of `for` (a duration like 15m), `until` (a date-time) or `at_time` (HH:MM with a timezone)
     steps[3].at_time: step `d`: `25:00` is not a time of day like 09:00
     steps[4].timezone: step `e`: `Mars/Olympus` is not a timezone (use an IANA name like Asia/Kolkata)
     steps[5].until: step `f`: template error: line 1, column 15: unexpected end of input, expected end of variable block
 "#]])
    .await;
}
