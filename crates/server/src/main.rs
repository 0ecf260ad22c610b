//! The `yiqiao` binary; everything lives in `lib.rs`.

fn main() -> std::process::ExitCode {
    server::main()
}
