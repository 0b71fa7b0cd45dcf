fn main() -> std::process::ExitCode {
    i2k::cli::main()
}
