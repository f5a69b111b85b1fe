//! A bound on the memory one template render may take. minijinja's fuel counts instructions,
//! not bytes, and one instruction can double a string (`{% set ns.s = ns.s ~ ns.s %}` in a
//! loop: forty of them ask for a terabyte) or repeat one to 100 MB (`'x' * 100000000`), so
//! fuel alone lets a template exhaust the machine in a few thousand instructions. minijinja
//! has no hook for a value's size, so the bound sits in the allocator: [`Budgeted`] wraps the
//! binary's allocator and, while [`within`] runs a render on a thread, counts what that thread
//! allocates. Past [`LIVE`] bytes held or [`GROSS`] bytes allocated in all, the allocation
//! cannot be refused (Rust aborts on a failed allocation, and an allocator may not unwind), so
//! the run stops there: the work is described by the closure `within` was given, the pending
//! temp files are removed (the hook `on_over`), and the process exits 2 as any failed render does.
//!
//! Outside a render the wrapper costs one thread-local read per allocation.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

/// Bytes a render may hold at once: 256 times the cap on a part's output
/// ([`crate::template::MAX_OUTPUT`]).
pub const LIVE: usize = 256 << 20;
/// Bytes a render may allocate in all (freed or not): bounds the time as well, e.g. a loop
/// that builds a 100 MB string and drops it, over and over (about a second of copying).
/// Building a list by appending to a string item by item allocates quadratically: 10,000
/// items (50 KB) take ≈ 1.4 GB in all, which passes.
pub const GROSS: usize = 4 << 30;

#[derive(Clone, Copy)]
struct Count {
    on: bool,
    live: isize,
    gross: usize,
}

/// What the thread's render is, for the message if it runs over: a pointer to the closure
/// `within` holds on its stack for as long as the render runs.
type Describe = *const (dyn Fn() -> String + 'static);

thread_local! {
    static COUNT: Cell<Count> = const { Cell::new(Count { on: false, live: 0, gross: 0 }) };
    static WHAT: Cell<Option<Describe>> = const { Cell::new(None) };
}

/// Run `f` (a template render) with this thread's allocations counted against the budget.
/// `what` names the work for the error should it run over ("templates/x.yaml: rendering …").
/// Nested calls count against the outer budget.
pub fn within<R>(what: &dyn Fn() -> String, f: impl FnOnce() -> R) -> R {
    let outer = COUNT.with(Cell::get);
    if outer.on {
        return f();
    }
    // SAFETY: only the lifetime is erased. The pointer is read by `over` on this thread while
    // `f` runs, and cleared below before `what` goes out of scope (a panic in `f` unwinds
    // through `Reset`, which clears it too).
    let ptr: Describe = unsafe { std::mem::transmute::<*const (dyn Fn() -> String + '_), Describe>(what) };
    WHAT.with(|w| w.set(Some(ptr)));
    COUNT.with(|c| c.set(Count { on: true, live: 0, gross: 0 }));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            COUNT.with(|c| c.set(Count { on: false, live: 0, gross: 0 }));
            WHAT.with(|w| w.set(None));
        }
    }
    let _reset = Reset;
    f()
}

/// Count `grow` more bytes (and `shrink` fewer held) on this thread, if it is rendering.
#[inline]
fn charge(grow: usize, shrink: usize) {
    // `try_with`: an allocation during the thread's own teardown is not a render's.
    let _ = COUNT.try_with(|c| {
        let mut n = c.get();
        if !n.on {
            return;
        }
        n.live = n.live.saturating_add_unsigned(grow).saturating_sub_unsigned(shrink);
        n.gross = n.gross.saturating_add(grow);
        if n.live > LIVE as isize || n.gross > GROSS {
            c.set(Count { on: false, live: 0, gross: 0 });
            over(n.gross > GROSS);
        }
        c.set(n);
    });
}

/// The render ran over (`gross`: in all, else at once): say which, remove the temp files,
/// exit 2. Counting is off by now, so what this allocates goes through as any allocation does.
#[cold]
fn over(gross: bool) -> ! {
    let what = WHAT.with(Cell::get).map_or_else(
        || "rendering a template".to_owned(),
        // SAFETY: set by `within` for the render running on this thread, which is still in
        // `f` (this is one of its allocations), so the closure is alive.
        |p| unsafe { (*p)() },
    );
    let text = if gross {
        format!(
            "error: {what} stopped: it allocated more than {} GiB in all (a loop that builds big strings over and over?)",
            GROSS >> 30
        )
    } else {
        format!(
            "error: {what} stopped: it took more than {} MiB of memory (a string doubled or repeated in a loop?)",
            LIVE >> 20
        )
    };
    match EXIT.get() {
        Some(exit) => exit(2, &text),
        None => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "{text}");
            std::process::exit(2)
        }
    }
}

/// How a run that went over ends: set by the CLI to the output's clean-up
/// (`output::sink::exit_removing_temp_files`: print, remove the temp files, exit). A hook,
/// so this leaf module depends on nothing above it.
static EXIT: std::sync::OnceLock<fn(u8, &str) -> !> = std::sync::OnceLock::new();

/// Set how a run that goes over its budget ends (once; later calls change nothing).
pub fn on_over(exit: fn(u8, &str) -> !) {
    let _ = EXIT.set(exit);
}

/// The binary's allocator with the render budget on top (`#[global_allocator]` in main.rs).
pub struct Budgeted<A>(pub A);

// SAFETY: every call goes to the wrapped allocator unchanged; `charge` only counts (and, past
// the budget, ends the process before the allocation is made).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Budgeted<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size(), 0);
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size(), 0);
        // SAFETY: as `alloc`.
        unsafe { self.0.alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        charge(0, layout.size());
        // SAFETY: as `alloc`.
        unsafe { self.0.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        charge(new_size.saturating_sub(layout.size()), layout.size().saturating_sub(new_size));
        // SAFETY: as `alloc`.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}
