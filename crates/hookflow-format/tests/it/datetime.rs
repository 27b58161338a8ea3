//! The `datetime` kind.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

#[test]
fn format() {
    check(
        r#"{"id": "when", "type": "formatter", "kind": "datetime", "operation": "format", "input": "{{ event.body.order.created_at }}", "format": "%d %b %Y %H:%M", "timezone": "Asia/Kolkata"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","format":"%d %b %Y %H:%M","timezone":"Asia/Kolkata"}
            output: {"value":"22 Nov 2026 15:30","iso":"2026-11-22T15:30:00+05:30","unix":1795341600,"timezone":"Asia/Kolkata"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "format", "input": "2026-11-22T10:00:00Z", "format": "%A, %B %-d %Y at %I:%M %p %Z"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","format":"%A, %B %-d %Y at %I:%M %p %Z"}
            output: {"value":"Sunday, November 22 2026 at 10:00 AM UTC","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "format", "input": "2026-11-22T10:00:00Z", "format": "%s", "timezone": "{{ event.body.customer.timezone }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","format":"%s","timezone":"Europe/Paris"}
            output: {"value":"1795341600","iso":"2026-11-22T11:00:00+01:00","unix":1795341600,"timezone":"Europe/Paris"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "format", "input": "2026-07-01T10:00:00Z", "format": "%Y-%m-%d %H:%M %z %Z", "timezone": "America/New_York"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-07-01T10:00:00Z","format":"%Y-%m-%d %H:%M %z %Z","timezone":"America/New_York"}
            output: {"value":"2026-07-01 06:00 -0400 EDT","iso":"2026-07-01T06:00:00-04:00","unix":1782900000,"timezone":"America/New_York"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "format", "input": "2026-11-22T10:00:00Z", "format": "%H:%M", "timezone": "+05:30"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","format":"%H:%M","timezone":"+05:30"}
            output: {"value":"15:30","iso":"2026-11-22T15:30:00+05:30","unix":1795341600,"timezone":"+05:30"}
        "#]],
    );
}

#[test]
fn accepted_inputs() {
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22T15:30:00+05:30"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T15:30:00+05:30"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22T10:00:00.250Z"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00.250Z"}
            output: {"value":"2026-11-22T10:00:00.25Z","iso":"2026-11-22T10:00:00.25Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22 10:00"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22 10:00"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "Sun, 22 Nov 2026 10:00:00 GMT"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Sun, 22 Nov 2026 10:00:00 GMT"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22 10:00:00 +0000"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22 10:00:00 +0000"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22 10:00:00 UTC"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22 10:00:00 UTC"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22T11:00:00+01:00[Europe/Paris]"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T11:00:00+01:00[Europe/Paris]"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": 1795341600}"#,
        EVENT,
        expect![[r#"
            input: {"input":1795341600}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": 1795341600123}"#,
        EVENT,
        expect![[r#"
            input: {"input":1795341600123}
            output: {"value":"2026-11-22T10:00:00.123Z","iso":"2026-11-22T10:00:00.123Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": 1795341600.5}"#,
        EVENT,
        expect![[r#"
            input: {"input":1795341600.5}
            output: {"value":"2026-11-22T10:00:00.5Z","iso":"2026-11-22T10:00:00.5Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "1795341600"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"1795341600"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "1795341600123"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"1795341600123"}
            output: {"value":"2026-11-22T10:00:00.123Z","iso":"2026-11-22T10:00:00.123Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "-86400"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"-86400"}
            output: {"value":"1969-12-31T00:00:00Z","iso":"1969-12-31T00:00:00Z","unix":-86400,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "{{ event.body.zero }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":0}
            output: {"value":"1970-01-01T00:00:00Z","iso":"1970-01-01T00:00:00Z","unix":0,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22T10:00:00"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "{{ event.body.order.local_time }}", "input_timezone": "Asia/Kolkata", "timezone": "Asia/Kolkata"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22 10:00","input_timezone":"Asia/Kolkata","timezone":"Asia/Kolkata"}
            output: {"value":"2026-11-22T10:00:00+05:30","iso":"2026-11-22T10:00:00+05:30","unix":1795321800,"timezone":"Asia/Kolkata"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "Sun, 22 Nov 2026 10:00:00 +0000"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Sun, 22 Nov 2026 10:00:00 +0000"}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "{{ event.body.order.unix }}", "timezone": "Europe/Paris"}"#,
        EVENT,
        expect![[r#"
            input: {"input":1795341600,"timezone":"Europe/Paris"}
            output: {"value":"2026-11-22T11:00:00+01:00","iso":"2026-11-22T11:00:00+01:00","unix":1795341600,"timezone":"Europe/Paris"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "{{ event.body.order.unix_ms }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"1795341600123"}
            output: {"value":"2026-11-22T10:00:00.123Z","iso":"2026-11-22T10:00:00.123Z","unix":1795341600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22"}
            output: {"value":"2026-11-22T00:00:00Z","iso":"2026-11-22T00:00:00Z","unix":1795305600,"timezone":"UTC"}
        "#]],
    );
}

#[test]
fn input_format() {
    check(
        r#"{"kind": "datetime", "operation": "format", "input": "22/11/2026 10:00", "input_format": "%d/%m/%Y %H:%M", "input_timezone": "Europe/Paris", "format": "%Y-%m-%dT%H:%M%:z", "timezone": "Europe/Paris"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"22/11/2026 10:00","input_format":"%d/%m/%Y %H:%M","input_timezone":"Europe/Paris","format":"%Y-%m-%dT%H:%M%:z","timezone":"Europe/Paris"}
            output: {"value":"2026-11-22T10:00+01:00","iso":"2026-11-22T10:00:00+01:00","unix":1795338000,"timezone":"Europe/Paris"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "11/22/2026", "input_format": "%m/%d/%Y"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"11/22/2026","input_format":"%m/%d/%Y"}
            output: {"value":"2026-11-22T00:00:00Z","iso":"2026-11-22T00:00:00Z","unix":1795305600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "22.11.2026 10:00 +0100", "input_format": "%d.%m.%Y %H:%M %z", "input_timezone": "Asia/Tokyo"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"22.11.2026 10:00 +0100","input_format":"%d.%m.%Y %H:%M %z","input_timezone":"Asia/Tokyo"}
            output: {"value":"2026-11-22T09:00:00Z","iso":"2026-11-22T09:00:00Z","unix":1795338000,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-11-22", "input_format": "%d/%m/%Y"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22","input_format":"%d/%m/%Y"}
            error: input `2026-11-22` does not match input_format `%d/%m/%Y`: strptime parsing failed: expected to match literal byte `/` from format string, but found byte `2` in input
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "10:00", "input_format": "%H:%M"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"10:00","input_format":"%H:%M"}
            error: input `10:00` parsed with input_format `%H:%M` is not a full date: date required to parse datetime: year required to parse date
        "#]],
    );
}

#[test]
fn bad_inputs() {
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "abc"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"abc"}
            error: input `abc` is not a date-time (expected RFC 3339 / ISO 8601, RFC 2822 or Unix seconds or milliseconds; set input_format for other layouts)
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "{{ event.body.order.missing_date }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":null}
            error: input is empty
            missing: event.body.order.missing_date
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "{{ event.body.order.items }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gift":true}]}
            error: input `[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gi…` is not a date-time (expected RFC 3339 / ISO 8601, RFC 2822 or Unix seconds or milliseconds; set input_format for other layouts)
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "2026-02-30"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-02-30"}
            error: input `2026-02-30` is not a date-time (expected RFC 3339 / ISO 8601, RFC 2822 or Unix seconds or milliseconds; set input_format for other layouts)
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "99999999999999999999"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"99999999999999999999"}
            error: input `99999999999999999999` is not a date-time (expected RFC 3339 / ISO 8601, RFC 2822 or Unix seconds or milliseconds; set input_format for other layouts)
        "#]],
    );
}

#[test]
fn add_and_subtract() {
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "{{ event.body.order.created_at }}", "duration": "1d12h"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"1d12h"}
            output: {"value":"2026-11-23T22:00:00Z","iso":"2026-11-23T22:00:00Z","unix":1795471200,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-01-31T09:00:00Z", "duration": "1mo", "format": "%Y-%m-%d"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-01-31T09:00:00Z","duration":"1mo","format":"%Y-%m-%d"}
            output: {"value":"2026-02-28","iso":"2026-02-28T09:00:00Z","unix":1772269200,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2028-01-31T09:00:00Z", "duration": "1mo", "format": "%Y-%m-%d"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2028-01-31T09:00:00Z","duration":"1mo","format":"%Y-%m-%d"}
            output: {"value":"2028-02-29","iso":"2028-02-29T09:00:00Z","unix":1835427600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2028-02-29T09:00:00Z", "duration": "1y", "format": "%Y-%m-%d"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2028-02-29T09:00:00Z","duration":"1y","format":"%Y-%m-%d"}
            output: {"value":"2029-02-28","iso":"2029-02-28T09:00:00Z","unix":1866963600,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-11-22T10:00:00Z", "duration": "P1DT2H"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"P1DT2H"}
            output: {"value":"2026-11-23T12:00:00Z","iso":"2026-11-23T12:00:00Z","unix":1795435200,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-11-22T10:00:00Z", "duration": "1w 2 days 30s"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"1w 2 days 30s"}
            output: {"value":"2026-12-01T10:00:30Z","iso":"2026-12-01T10:00:30Z","unix":1796119230,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-11-22T10:00:00Z", "duration": 90}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":90}
            output: {"value":"2026-11-22T10:01:30Z","iso":"2026-11-22T10:01:30Z","unix":1795341690,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "subtract", "input": "2026-03-31T10:00:00Z", "duration": "1mo", "format": "%Y-%m-%d"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-03-31T10:00:00Z","duration":"1mo","format":"%Y-%m-%d"}
            output: {"value":"2026-02-28","iso":"2026-02-28T10:00:00Z","unix":1772272800,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "subtract", "input": "2026-11-22T10:00:00Z", "duration": "15m", "timezone": "Asia/Kolkata"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"15m","timezone":"Asia/Kolkata"}
            output: {"value":"2026-11-22T15:15:00+05:30","iso":"2026-11-22T15:15:00+05:30","unix":1795340700,"timezone":"Asia/Kolkata"}
        "#]],
    );
    // Days are calendar days in the time zone: across the DST change 1d is 23 hours.
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-03-28T12:00:00+01:00", "duration": "1d", "timezone": "Europe/Paris"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-03-28T12:00:00+01:00","duration":"1d","timezone":"Europe/Paris"}
            output: {"value":"2026-03-29T12:00:00+02:00","iso":"2026-03-29T12:00:00+02:00","unix":1774778400,"timezone":"Europe/Paris"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-03-28T12:00:00+01:00", "duration": "24h", "timezone": "Europe/Paris"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-03-28T12:00:00+01:00","duration":"24h","timezone":"Europe/Paris"}
            output: {"value":"2026-03-29T13:00:00+02:00","iso":"2026-03-29T13:00:00+02:00","unix":1774782000,"timezone":"Europe/Paris"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-11-22T10:00:00Z", "duration": "{{ event.custom_variables.duration }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"5 parsecs"}
            error: duration `5 parsecs` is not a duration (like 30s, 15m, 2h, 3d, 1w, 1mo, 1y, 1d12h or P1DT2H)
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "9999-06-01T00:00:00Z", "duration": "1y"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"9999-06-01T00:00:00Z","duration":"1y"}
            error: the result is out of range: failed to add span to datetime from zoned datetime: failed to add span to date: parameter 'year' is not in the required range of -9999..=9999
        "#]],
    );
}

#[test]
fn duration_spellings() {
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-11-22T10:00:00Z", "duration": "-1d"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"-1d"}
            output: {"value":"2026-11-21T10:00:00Z","iso":"2026-11-21T10:00:00Z","unix":1795255200,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-11-22T10:00:00Z", "duration": "2h ago"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"2h ago"}
            output: {"value":"2026-11-22T08:00:00Z","iso":"2026-11-22T08:00:00Z","unix":1795334400,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "subtract", "input": "2026-11-22T10:00:00Z", "duration": "1500ms", "format": "%H:%M:%S%.3f"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"1500ms","format":"%H:%M:%S%.3f"}
            output: {"value":"09:59:58.500","iso":"2026-11-22T09:59:58.5Z","unix":1795341598,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "add", "input": "2026-11-22T10:00:00Z", "duration": "{{ event.body.order.quantity }}d"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","duration":"3d"}
            output: {"value":"2026-11-25T10:00:00Z","iso":"2026-11-25T10:00:00Z","unix":1795600800,"timezone":"UTC"}
        "#]],
    );
}

#[test]
fn formats_from_templates() {
    check(
        r#"{"kind": "datetime", "operation": "format", "input": "2026-11-22T10:00:00Z", "format": "{{ '%Y %!' }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","format":"%Y %!"}
            error: format `%Y %!` is not a valid strftime format: strftime formatting failed: found unrecognized specifier directive `!`
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "parse", "input": "22/11/2026", "input_format": "{{ event.body.nope }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"22/11/2026","input_format":null}
            error: input `22/11/2026` is not a date-time (expected RFC 3339 / ISO 8601, RFC 2822 or Unix seconds or milliseconds; set input_format for other layouts)
            missing: event.body.nope
        "#]],
    );
}

#[test]
fn convert_timezone() {
    check(
        r#"{"kind": "datetime", "operation": "convert_timezone", "input": "2026-11-22T10:00:00Z", "timezone": "America/Los_Angeles"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","timezone":"America/Los_Angeles"}
            output: {"value":"2026-11-22T02:00:00-08:00","iso":"2026-11-22T02:00:00-08:00","unix":1795341600,"timezone":"America/Los_Angeles"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "convert_timezone", "input": "2026-11-22 10:00", "input_timezone": "Asia/Kolkata", "timezone": "UTC", "format": "%H:%M"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22 10:00","input_timezone":"Asia/Kolkata","timezone":"UTC","format":"%H:%M"}
            output: {"value":"04:30","iso":"2026-11-22T04:30:00Z","unix":1795321800,"timezone":"UTC"}
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "convert_timezone", "input": "2026-11-22T10:00:00Z", "timezone": "{{ event.custom_variables.tz }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","timezone":"Mars/Base"}
            error: timezone `Mars/Base` is not a known time zone (use an IANA name like Europe/Paris, UTC, or an offset like +05:30)
        "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "convert_timezone", "input": "2026-11-22T10:00:00Z", "timezone": "{{ contact.timezone }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22T10:00:00Z","timezone":null}
            output: {"value":"2026-11-22T10:00:00Z","iso":"2026-11-22T10:00:00Z","unix":1795341600,"timezone":"UTC"}
            missing: contact.timezone
        "#]],
    );
}

#[test]
fn now() {
    check(
        r#"{"kind": "datetime", "operation": "now"}"#,
        EVENT,
        expect![[r#"
        input: {}
        output: {"value":"2026-03-14T15:09:26Z","iso":"2026-03-14T15:09:26Z","unix":1773500966,"timezone":"UTC"}
    "#]],
    );
    check(
        r#"{"kind": "datetime", "operation": "now", "timezone": "{{ system.timezone }}", "format": "%Y-%m-%d %H:%M"}"#,
        EVENT,
        expect![[r#"
            input: {"timezone":"Asia/Kolkata","format":"%Y-%m-%d %H:%M"}
            output: {"value":"2026-03-14 20:39","iso":"2026-03-14T20:39:26+05:30","unix":1773500966,"timezone":"Asia/Kolkata"}
        "#]],
    );
}

#[test]
fn bad_config() {
    check_config(
        r#"{"kind": "datetime"}"#,
        expect![[r#"
        operation: missing required field; operations of datetime: format, parse, add, subtract, convert_timezone, now
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "fromat", "input": "x"}"#,
        expect![[r#"
        operation: unknown operation `fromat`; operations of datetime: format, parse, add, subtract, convert_timezone, now
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "format", "input": "x"}"#,
        expect![[r#"
        format: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "format", "input": "x", "format": "%Y", "timezone": "Mars/Base", "input_timezone": "Nowhere"}"#,
        expect![[r#"
            timezone: `Mars/Base` is not a known time zone (use an IANA name like Europe/Paris, UTC, or an offset like +05:30)
            input_timezone: `Nowhere` is not a known time zone (use an IANA name like Europe/Paris, UTC, or an offset like +05:30)
        "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "format", "input": "x", "format": "%Y %!"}"#,
        expect![[r#"
            format: `%Y %!` is not a valid strftime format: strftime formatting failed: found unrecognized specifier directive `!`
        "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "parse", "input": "x", "input_format": "%Q%"}"#,
        expect![[r#"
            input_format: `%Q%` is not a valid strftime format: strftime formatting failed: invalid format string, expected byte after `%`, but found end of format string
        "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "add", "input": "x", "duration": "5 parsecs"}"#,
        expect![[r#"
        duration: `5 parsecs` is not a duration (like 30s, 15m, 2h, 3d, 1w, 1mo, 1y, 1d12h or P1DT2H)
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "add", "input": "x", "duration": ""}"#,
        expect![[r#"
        duration: is empty
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "add", "input": "x", "duration": 1.5}"#,
        expect![[r#"
        duration: `1.5` is not a duration (like 30s, 15m, 2h, 3d, 1w, 1mo, 1y, 1d12h or P1DT2H)
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "subtract", "input": "x"}"#,
        expect![[r#"
        duration: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "convert_timezone", "input": "x"}"#,
        expect![[r#"
        timezone: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "now", "timezone": "+25:00"}"#,
        expect![[r#"
        timezone: `+25:00` is not a known time zone (use an IANA name like Europe/Paris, UTC, or an offset like +05:30)
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "now", "timezone": "Europe/Paris", "format": "{{ x }}"}"#,
        expect![[r#"
        compiled: datetime now
    "#]],
    );
}
