//! The one drain-and-normalize harness of the connection's tests, its property tests and the
//! fuzz targets, in the spirit of quinn-proto's `tests/util.rs`: drain
//! [`Connection::poll_output`] as a driver does until it rests, record what came out, and join
//! what any split of the reads may cut differently.
//!
//! Hidden from the docs: a test helper, not part of the API, with no stability promise.

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use crate::conn::{Connection, End, Event, Output};
use crate::error::Error;
use crate::headers::Headers;
use crate::response::ResponseHead;
use crate::time::Timestamp;

/// One output as a test sees it (without the rests, which [`drain`] returns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// [`Output::Transmit`].
    Wrote(Bytes),
    /// [`Event::Informational`].
    Info(ResponseHead),
    /// [`Event::ResponseHead`].
    Head(ResponseHead),
    /// [`Event::Data`].
    Data(Bytes),
    /// [`Event::Trailers`].
    Trailers(Headers),
    /// [`Output::End`].
    End(End),
    /// [`Output::Error`].
    Error(Error),
}

/// Where `poll_output` came to rest: the outputs that ask the driver to wait or act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rest {
    /// [`Output::NeedInput`].
    NeedInput,
    /// [`Output::NeedBody`].
    NeedBody,
    /// [`Output::Idle`].
    Idle,
    /// [`Output::Reconnect`].
    Reconnect,
    /// [`Output::HandedOver`].
    HandedOver,
    /// [`Output::Closed`].
    Closed,
}

impl Rest {
    /// Whether the connection still reads a response (it asks for input or for body).
    #[must_use]
    pub fn is_reading(self) -> bool {
        matches!(self, Rest::NeedInput | Rest::NeedBody)
    }
}

/// How [`drain`] records consecutive pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// Each output as it came: a chunked piece is three writes.
    No,
    /// Consecutive writes joined, consecutive data joined (h11's `normalize_data_events`): what
    /// any split of the reads must agree on.
    Pieces,
}

/// `out` as a [`Seen`], or the [`Rest`] it is.
///
/// # Errors
/// The rest, when `out` is one.
pub fn seen(out: Output) -> Result<Seen, Rest> {
    Ok(match out {
        Output::Transmit(t) => Seen::Wrote(t.into_bytes()),
        Output::Event(Event::Informational(h)) => Seen::Info(h),
        Output::Event(Event::ResponseHead(h)) => Seen::Head(h),
        Output::Event(Event::Data(d)) => Seen::Data(d),
        Output::Event(Event::Trailers(t)) => Seen::Trailers(t),
        Output::End(e) => Seen::End(e),
        Output::Error(e) => Seen::Error(e),
        Output::NeedInput => return Err(Rest::NeedInput),
        Output::NeedBody => return Err(Rest::NeedBody),
        Output::Idle => return Err(Rest::Idle),
        Output::Reconnect => return Err(Rest::Reconnect),
        Output::HandedOver => return Err(Rest::HandedOver),
        Output::Closed => return Err(Rest::Closed),
    })
}

/// Appends `item` to `seen`, joined to the last item per `join`.
pub fn push(seen: &mut Vec<Seen>, item: Seen, join: Join) {
    let joined = match (join, seen.last_mut(), &item) {
        (Join::Pieces, Some(Seen::Wrote(a)), Seen::Wrote(b))
        | (Join::Pieces, Some(Seen::Data(a)), Seen::Data(b)) => {
            let mut both = BytesMut::from(&a[..]);
            both.extend_from_slice(b);
            *a = both.freeze();
            true
        }
        _ => false,
    };
    if !joined {
        seen.push(item);
    }
}

/// Joins the pieces of `seen` that several drains recorded one by one.
#[must_use]
pub fn joined(seen: Vec<Seen>) -> Vec<Seen> {
    let mut out = Vec::with_capacity(seen.len());
    for item in seen {
        push(&mut out, item, Join::Pieces);
    }
    out
}

/// Drains `conn` until it rests, as the driver contract says, recording every output in
/// `seen`. `each` sees every output first, rests included, with the connection: to check it
/// (a `Transmit`'s `Debug`, say) or to call back as a driver would (`discard_body` at a head).
pub fn drain<T: Timestamp>(
    conn: &mut Connection<T>,
    seen: &mut Vec<Seen>,
    join: Join,
    mut each: impl FnMut(&mut Connection<T>, &Output),
) -> Rest {
    loop {
        let out = conn.poll_output();
        each(conn, &out);
        match self::seen(out) {
            Ok(item) => push(seen, item, join),
            Err(rest) => return rest,
        }
    }
}
