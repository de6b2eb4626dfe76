//! The input of the stream targets, and how a stream is cut into reads.
//!
//! ```text
//! byte 0      mode: the target's options, bit by bit
//! byte 1      n = byte % 8: how many cuts follow
//! n bytes     each the distance to the next cut, minus one (so 1 to 256 bytes)
//! the rest    the bytes the peer sends
//! ```
//!
//! Seeds write the header as `\x00\x00` (mode 0, no cuts) and the stream as it is on the wire.

/// A stream target's input, read.
pub(crate) struct Framed<'a> {
    pub(crate) mode: u8,
    /// Offsets into `stream` where one read ends and the next begins; ascending, each inside
    /// the stream.
    pub(crate) cuts: Vec<usize>,
    pub(crate) stream: &'a [u8],
}

impl Framed<'_> {
    /// Reads the header; `None` when the input is too short to hold one.
    pub(crate) fn read(data: &[u8]) -> Option<Framed<'_>> {
        let (&mode, rest) = data.split_first()?;
        let (&count, rest) = rest.split_first()?;
        let count = usize::from(count % 8);
        if rest.len() < count {
            return None;
        }
        let (deltas, stream) = rest.split_at(count);
        let mut cuts = Vec::with_capacity(count);
        let mut at = 0;
        for &d in deltas {
            at += usize::from(d) + 1;
            if at >= stream.len() {
                break;
            }
            cuts.push(at);
        }
        Some(Framed { mode, cuts, stream })
    }

    /// Whether bit `n` of the mode is set.
    pub(crate) fn bit(&self, n: u8) -> bool {
        self.mode & (1 << n) != 0
    }
}

/// The reads of `stream` cut at `cuts` (ascending, inside the stream): never empty pieces.
pub(crate) fn reads<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut at = 0;
    for &cut in cuts.iter().chain([&stream.len()]) {
        if cut > at {
            out.push(&stream[at..cut]);
            at = cut;
        }
    }
    out
}

/// Every boundary of a stream: one read per byte.
pub(crate) fn bytewise(stream: &[u8]) -> Vec<usize> {
    (1..stream.len()).collect()
}

/// Whether `needle` occurs in `haystack` (an empty needle always does).
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
