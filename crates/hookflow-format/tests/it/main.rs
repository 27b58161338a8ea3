//! Integration tests of hookflow-format: one module per kind, data-driven with expect-test.

mod convert;
mod counter;
mod data_parser;
mod datetime;
mod line_items;
mod lookup;
mod math;
mod steps;
mod text;
mod utils;

#[test]
fn formatter_is_send_sync_and_clone() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<hookflow_format::Formatter>();
    assert_send_sync::<hookflow_format::Outcome>();
    assert_send_sync::<hookflow_format::ConfigError>();
}
