//! Counts the bytes each thread allocates, for memory budgets of synchronous work.
//!
//! A template render runs on one thread from start to end, and minijinja has no
//! memory limit of its own. Wrapping the process's allocator in [`Counting`]
//! lets `hookflow-expr` read, before every template instruction, how many bytes
//! the render has allocated and not freed ([`thread_net`] now minus at the
//! start), and stop it with an error past its budget.
//!
//! The counter is per thread and net: allocations add, frees and shrinking
//! reallocations subtract. Memory freed on another thread than the one that
//! allocated it moves the two threads' counters apart, which is why only the
//! difference over a stretch of synchronous code on one thread means anything.
//!
//! Without `#[global_allocator] static A: Counting<...>` in the binary nothing
//! is counted and [`installed`] says so.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Bytes allocated minus bytes freed by this thread since it started.
    static NET: Cell<isize> = const { Cell::new(0) };
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A global allocator that forwards to `A` and counts each thread's net allocation.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counting<A>(pub A);

/// Bytes this thread has allocated and not freed (frees of other threads' memory subtract too).
pub fn thread_net() -> isize {
    NET.try_with(Cell::get).unwrap_or(0)
}

/// Whether the process allocates through [`Counting`], so that [`thread_net`] moves.
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

#[inline]
fn add(bytes: isize) {
    // `try_with`: a thread being torn down has no counter any more; its frees are not counted.
    let _ = NET.try_with(|net| net.set(net.get().wrapping_add(bytes)));
}

#[inline]
fn note_installed() {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the wrapped allocator with the caller's arguments unchanged and
// returns its result; the counting touches only a const-initialised thread-local `Cell` without a
// destructor, which never allocates.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let ptr = unsafe { self.0.alloc(layout) };
        if !ptr.is_null() {
            note_installed();
            add(layout.size() as isize);
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let ptr = unsafe { self.0.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note_installed();
            add(layout.size() as isize);
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { self.0.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as received.
        let new = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static ALLOC: Counting<std::alloc::System> = Counting(std::alloc::System);

    #[test]
    fn counts_what_this_thread_holds() {
        let before = thread_net();
        let held = vec![0u8; 1 << 20];
        let during = thread_net();
        drop(held);
        let after = thread_net();
        assert!(installed());
        assert!(during - before >= 1 << 20, "{before} -> {during}");
        assert!(after - before < 1 << 10, "{before} -> {after}");
    }

    #[test]
    fn other_threads_do_not_count_here() {
        let before = thread_net();
        let held = std::thread::spawn(|| vec![0u8; 1 << 20]).join().expect("thread");
        assert!(thread_net() - before < 1 << 10);
        drop(held);
    }
}
