fn main() -> std::process::ExitCode {
    stancewatch::cli::main()
}
