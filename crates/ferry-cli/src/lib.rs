//! `ferry`, the command-line tool: curl's options over ferry's blocking `Client`.
//!
//! ```text
//! ferry [OPTIONS] URL...
//! ```
//!
//! The URLs are fetched in order through one `Client`, so connections (and tunnels through a
//! proxy) are reused as curl reuses them. The options are curl's, with curl's meaning: a
//! script written for curl runs with `ferry` unchanged where these options are concerned (see
//! `ferry --help`). Exit codes are curl's where they overlap (5, 6, 7, 22, 28, 35, 47, 52, 56,
//! 60), with one line `ferry: (N) message` on stderr, and the cause chain under `-v`.
//!
//! `-v` renders the `tracing` events the library emits (targets `ferry::proxy`,
//! `ferry::connect`, `ferry::tls`, `ferry::tunnel`, `ferry::request`, `ferry::response`,
//! `ferry::pool`) as curl's `*`, `>` and `<` lines; the library prints nothing itself.
//!
//! [`run`] is the whole tool as a function, for tests and the demo; the `ferry` binary calls
//! it with the process's arguments and streams.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod exit;
mod progress;
mod run;
mod verbose;
mod writeout;

use std::ffi::OsString;
use std::io::{self, IsTerminal as _, Write};
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt as _;

use crate::args::Args;
use crate::exit::Failure;

/// A shared writer: stderr, where `-v`'s lines and errors go (the `tracing` layer holds one).
pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// The streams the tool writes to.
pub struct Io {
    /// Where bodies, `-i`/`-I` heads and `-w` go.
    pub out: Box<dyn Write + Send>,
    /// Where `-v`, errors and warnings go.
    pub err: Sink,
    /// Whether `err` is a terminal: the progress bar is drawn (on the process's stderr) only
    /// then.
    pub err_is_terminal: bool,
}

impl Io {
    /// The process's stdout and stderr.
    #[must_use]
    pub fn std() -> Io {
        Io {
            out: Box::new(io::stdout()),
            err: Arc::new(Mutex::new(io::stderr())),
            err_is_terminal: io::stderr().is_terminal(),
        }
    }
}

/// Runs `ferry` with the process's streams; returns the exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run(args, Io::std())
}

/// Runs `ferry` with these arguments (the program name first) and streams; returns the exit
/// code: 0, or the last failed transfer's (curl's codes).
pub fn run<I, T>(args: I, mut io: Io) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::parse(args) {
        Ok(args) => args,
        Err(e) => {
            let text = e.render().to_string();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    let _ = io.out.write_all(text.as_bytes());
                    let _ = io.out.flush();
                    0
                }
                _ => {
                    let _ = write!(lock(&io.err), "{text}");
                    i32::from(exit::USAGE)
                }
            };
        }
    };
    let code = if args.cli.verbose {
        let layer = verbose::Verbose::new(Arc::clone(&io.err));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || run::all(&args, &mut io))
    } else {
        run::all(&args, &mut io)
    };
    i32::from(code)
}

/// The sink, locked; a panic elsewhere does not silence it.
pub(crate) fn lock(sink: &Sink) -> std::sync::MutexGuard<'_, dyn Write + Send + 'static> {
    match sink.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Writes a failure as curl would: unless `-s` without `-S`.
pub(crate) fn report(failure: &Failure, args: &Args, err: &Sink) {
    let cli = &args.cli;
    if cli.silent && !cli.show_error {
        return;
    }
    let mut err = lock(err);
    for line in failure.lines(cli.verbose) {
        let _ = writeln!(err, "{line}");
    }
}
