fn main() -> std::process::ExitCode {
    kairos::main()
}
