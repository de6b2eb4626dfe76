//! The progress bar of a download to a file: on stderr, only when stderr is a terminal and
//! `-s` was not given.

use std::io::{self, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A writer that moves a progress bar as bytes go through it.
pub(crate) struct Progress<W> {
    inner: W,
    bar: Option<ProgressBar>,
}

impl<W: Write> Progress<W> {
    /// Wraps `inner`; a bar is drawn only when `shown`, sized by `total` when it is known.
    pub(crate) fn new(inner: W, shown: bool, total: Option<u64>) -> Progress<W> {
        let bar = shown.then(|| match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{bytes:>10}/{total_bytes} [{bar:30}] {binary_bytes_per_sec} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {bytes:>10} {binary_bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        });
        Progress { inner, bar }
    }

    /// Whether a bar is drawn.
    #[cfg(test)]
    pub(crate) fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Ends the bar, leaving its last state on screen, and gives back the writer.
    pub(crate) fn finish(self) -> W {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        self.inner
    }
}

impl<W: Write> Write for Progress<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_pass_through_with_or_without_a_bar() -> io::Result<()> {
        for shown in [false, true] {
            let mut p = Progress::new(Vec::new(), shown, Some(3));
            assert_eq!(p.is_shown(), shown);
            p.write_all(b"abc")?;
            assert_eq!(p.finish(), b"abc");
        }
        Ok(())
    }
}
