//! The `kairos` binary: everything is in the library (`kairos::cli::main`).

/// mimalloc reuses freed memory within its threads instead of handing big blocks back to the
/// kernel and faulting in fresh zeroed pages: a run allocates and frees gigabytes of row and
/// output buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kairos::main()
}
