//! `ferry`: curl's options over ferry's blocking `Client` (see the `ferry_cli` crate).

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = ferry_cli::main_with_args(std::env::args_os());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
