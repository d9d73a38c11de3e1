//! `smsgate`: run the gateway or talk to a running one. See `smsgate --help`.

fn main() -> std::process::ExitCode {
    smsgate::cli::main()
}
