//! The `kairos` binary: everything is in the library (`kairos::cli::main`).

/// mimalloc reuses freed memory within its threads instead of handing big blocks back to the
/// kernel and faulting in fresh zeroed pages: a run allocates and frees gigabytes of row and
/// output buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    kairos::main()
}
