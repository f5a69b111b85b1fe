//! The `kairos` binary: everything is in the library (`kairos::cli::main`).

/// mimalloc reuses freed memory within its threads instead of handing big blocks back to the
/// kernel and faulting in fresh zeroed pages: a run allocates and frees gigabytes of row and
/// output buffers. `Budgeted` bounds what one template render may allocate (`kairos::budget`).
#[global_allocator]
static GLOBAL: kairos::budget::Budgeted<mimalloc::MiMalloc> = kairos::budget::Budgeted(mimalloc::MiMalloc);

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (v3, the version libmimalloc-sys
/// builds by default; v2 numbers it the same).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    /// mimalloc's own, linked in by libmimalloc-sys (declared here: the crate exports it only
    /// with its `extended` feature).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

fn main() -> std::process::ExitCode {
    // Without transparent huge pages: the run's big columns are filled once and freed phase by
    // phase, and with THP each first touch zeroes 2 MiB, which cost more system time and peak
    // memory than it saved (10M-row runs: ≈ 1.1 GiB instead of 1.2–1.4 GiB peak, sys 2.4 s
    // instead of 3.7–4.7 s).
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process; it reads no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    // Freed memory goes back to the kernel 10 ms after it is freed. mimalloc's default delay
    // kept the loader's pieces (freed column by column as the merged table is built) resident
    // next to the table: a 10M-row run peaked at ≈ 1.3 GiB instead of under 1 GiB. No delay at
    // all was worse: every free became an madvise whose TLB shootdowns stalled the other
    // threads (a 10M-row `kairos report` spent 27 s in the kernel, 8 s with 10 ms).
    // MIMALLOC_PURGE_DELAY (milliseconds), read by mimalloc itself, still overrides it.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options (an integer in its option table); called
        // before any thread but this one exists.
        unsafe {
            mi_option_set(MI_OPTION_PURGE_DELAY, 10);
        }
    }
    kairos::main()
}
