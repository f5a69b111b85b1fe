//! The `kairos` binary: everything is in the library (`kairos::cli::main`).

fn main() -> std::process::ExitCode {
    kairos::main()
}
