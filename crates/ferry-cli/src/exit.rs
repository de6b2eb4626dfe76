//! Exit codes (curl's where they overlap) and the one-line error.

use std::error::Error as StdError;

/// A failed transfer: curl's exit code, the line a person reads, and the causes under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The exit code.
    pub(crate) code: u8,
    /// One line: what failed.
    pub(crate) message: String,
    /// The `source()` chain, outermost first, shown under `-v`.
    pub(crate) causes: Vec<String>,
}

impl Failure {
    /// A failure with no causes.
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into(), causes: Vec::new() }
    }

    /// A failure from an error: its `Display`, and its sources as the causes.
    pub(crate) fn from_error(code: u8, error: &(dyn StdError + 'static)) -> Failure {
        let message = error.to_string();
        let mut causes: Vec<String> = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            // A wrapper may hold its source twice over: each text once.
            if text != message && !causes.contains(&text) {
                causes.push(text);
            }
            source = cause.source();
        }
        Failure { code, message, causes }
    }

    /// The lines written to stderr: `ferry: (N) message`, the causes when `verbose`.
    pub(crate) fn lines(&self, verbose: bool) -> Vec<String> {
        let mut lines = vec![format!("ferry: ({}) {}", self.code, self.message)];
        if verbose {
            lines.extend(self.causes.iter().map(|c| format!("ferry:   caused by: {c}")));
        }
        lines
    }
}

/// Exit code: the command line is wrong (curl's "failed to initialize" family).
pub(crate) const USAGE: u8 = 2;
/// Exit code: the URL is malformed.
pub(crate) const BAD_URL: u8 = 3;
/// Exit code: `--fail` and a status of 400 or more.
pub(crate) const HTTP_ERROR: u8 = 22;
/// Exit code: writing the output failed.
pub(crate) const WRITE_ERROR: u8 = 23;
/// Exit code: a file to read (data, certificates) could not be read.
pub(crate) const READ_ERROR: u8 = 26;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<Wrap>>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|w| w as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn the_chain_is_shown_under_verbose_only() {
        let e = Wrap(
            "connecting to x",
            Some(Box::new(Wrap(
                "refused",
                Some(Box::new(Wrap("refused", Some(Box::new(Wrap("connecting", None)))))),
            ))),
        );
        let f = Failure::from_error(7, &e);
        assert_eq!(f.lines(false), ["ferry: (7) connecting to x"]);
        assert_eq!(
            f.lines(true),
            [
                "ferry: (7) connecting to x",
                "ferry:   caused by: refused",
                "ferry:   caused by: connecting"
            ]
        );
    }
}
