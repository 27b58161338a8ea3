//! Integration tests of hookflow-expr: one `check` helper per feature, data-driven with expect-test.

/// The allocator the hookflow binary uses, so that the templates' memory budget is enforced here too.
#[global_allocator]
static ALLOCATOR: hookflow_alloc::Counting<std::alloc::System> = hookflow_alloc::Counting(std::alloc::System);

mod conditions;
mod fuzz;
mod limits;
mod math;
mod templates;
mod utils;

#[test]
fn shared_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<hookflow_expr::Templates>();
    assert_send_sync::<hookflow_expr::Template>();
    assert_send_sync::<hookflow_expr::CompiledNode>();
    assert_send_sync::<hookflow_expr::Outcome>();
    assert_send_sync::<hookflow_expr::Rendered>();
}
