//! Time as data: the core never reads a clock.
//!
//! The driver passes "now" into every `handle_*` call. Deadlines live in named slots
//! ([`TimerKind`]); [`Connection::poll_timeout`](crate::Connection::poll_timeout) is their
//! minimum, and `handle_timeout(now)` fires every slot whose deadline is not after `now`. Calling
//! it early, or twice, does nothing.
//!
//! The core is generic over the timestamp type ([`Timestamp`]) so that it also works without
//! `std`: drivers use [`std::time::Instant`], tests and embedded users can use a
//! [`Duration`] since any origin as a virtual clock.

use core::fmt::Debug;
use core::time::Duration;

/// A point on a monotonic clock chosen by the driver.
///
/// Implemented for [`std::time::Instant`] (with the `std` feature) and for [`Duration`] (time
/// since an origin the driver picks, handy as a virtual clock in tests).
pub trait Timestamp: Copy + Ord + Debug {
    /// `self + d`, or `None` when that is not representable (treated as "never").
    fn checked_add(self, d: Duration) -> Option<Self>;
}

#[cfg(feature = "std")]
impl Timestamp for std::time::Instant {
    fn checked_add(self, d: Duration) -> Option<Self> {
        std::time::Instant::checked_add(&self, d)
    }
}

impl Timestamp for Duration {
    fn checked_add(self, d: Duration) -> Option<Self> {
        Duration::checked_add(self, d)
    }
}

/// The named deadline slots of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimerKind {
    /// Opening the transport (TCP connect), run by the driver through
    /// [`Connection::start_setup`](crate::Connection::start_setup).
    Connect,
    /// The TLS handshake, run by the layer above through
    /// [`Connection::start_setup`](crate::Connection::start_setup).
    TlsHandshake,
    /// `Expect: 100-continue`: when it fires the body is sent without waiting longer.
    ExpectContinue,
    /// The gap between two pieces of the request body while the core asks for them, before
    /// the final response head.
    SendBody,
    /// The whole response head must arrive by then, counted from when the request was handed
    /// out in full (or its body held back for `100 Continue`).
    ResponseHead,
    /// The gap between two reads of the response body.
    BodyRead,
    /// The whole CONNECT handshake, 407 rounds included.
    TunnelSetup,
    /// How long a reusable connection may sit idle before it is closed.
    Idle,
}

const SLOTS: usize = 8;

impl TimerKind {
    pub(crate) const ALL: [TimerKind; SLOTS] = [
        TimerKind::Connect,
        TimerKind::TlsHandshake,
        TimerKind::ExpectContinue,
        TimerKind::SendBody,
        TimerKind::ResponseHead,
        TimerKind::BodyRead,
        TimerKind::TunnelSetup,
        TimerKind::Idle,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            TimerKind::Connect => "transport to connect",
            TimerKind::TlsHandshake => "TLS handshake",
            TimerKind::ExpectContinue => "100 (continue) response",
            TimerKind::SendBody => "next piece of the request body",
            TimerKind::ResponseHead => "response head",
            TimerKind::BodyRead => "next bytes of the response body",
            TimerKind::TunnelSetup => "proxy to open the tunnel",
            TimerKind::Idle => "connection to be reused (idle)",
        }
    }
}

/// A table of optional deadlines, one slot per [`TimerKind`].
#[derive(Clone, Debug)]
pub(crate) struct Timers<T> {
    slots: [Option<T>; SLOTS],
}

impl<T: Timestamp> Timers<T> {
    pub(crate) fn new() -> Self {
        Timers { slots: [None; SLOTS] }
    }

    /// Arms `kind` at `now + after`; a `None` duration (or an overflow) disarms it.
    pub(crate) fn set(&mut self, kind: TimerKind, now: T, after: Option<Duration>) {
        self.slots[kind.index()] = after.and_then(|d| now.checked_add(d));
    }

    pub(crate) fn stop(&mut self, kind: TimerKind) {
        self.slots[kind.index()] = None;
    }

    pub(crate) fn stop_all(&mut self) {
        self.slots = [None; SLOTS];
    }

    pub(crate) fn get(&self, kind: TimerKind) -> Option<T> {
        self.slots[kind.index()]
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<T> {
        self.slots.iter().flatten().min().copied()
    }

    /// Disarms and returns the first slot (in [`TimerKind::ALL`] order) that is due at `now`.
    pub(crate) fn take_expired(&mut self, now: T) -> Option<TimerKind> {
        for kind in TimerKind::ALL {
            if let Some(at) = self.slots[kind.index()] {
                if at <= now {
                    self.slots[kind.index()] = None;
                    return Some(kind);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_deadline_and_expiry_are_idempotent() {
        let mut t = Timers::<Duration>::new();
        let now = Duration::from_secs(10);
        t.set(TimerKind::Idle, now, Some(Duration::from_secs(5)));
        t.set(TimerKind::ResponseHead, now, Some(Duration::from_secs(2)));
        assert_eq!(t.next(), Some(Duration::from_secs(12)));
        // Early: nothing fires.
        assert_eq!(t.take_expired(Duration::from_secs(11)), None);
        assert_eq!(t.take_expired(Duration::from_secs(12)), Some(TimerKind::ResponseHead));
        // Twice: fires once.
        assert_eq!(t.take_expired(Duration::from_secs(12)), None);
        assert_eq!(t.next(), Some(Duration::from_secs(15)));
    }

    #[test]
    fn overflowing_deadline_is_never() {
        let mut t = Timers::<Duration>::new();
        t.set(TimerKind::Idle, Duration::MAX, Some(Duration::from_secs(1)));
        assert_eq!(t.next(), None);
        t.set(TimerKind::Idle, Duration::ZERO, None);
        assert_eq!(t.get(TimerKind::Idle), None);
    }
}
