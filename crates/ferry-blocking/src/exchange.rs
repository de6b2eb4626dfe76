//! One exchange on a driver, shared by [`Connection`](crate::Connection) and
//! [`Client`](crate::Client): the request body fed as the stack asks for it, the interim
//! responses gathered, the body handed out piece by piece. Every `if` here is on the stack's
//! outputs or on the caller's reader; the protocol decisions are the stack's.

use std::io::{self, Read};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ferry_client::{Error, Output};
use ferry_proto::{BodyFraming, Event, Headers, Request, ResponseHead};

use crate::driver::Driver;

/// How much of a reader body is read per piece.
const BODY_PIECE: usize = 64 * 1024;

/// A request body.
pub enum Body {
    /// No body.
    Empty,
    /// These bytes, sent with `Content-Length`; replayable, so a request on a stale pooled
    /// connection, or after a 307, can be sent again.
    Bytes(Bytes),
    /// A reader: of known length (`Content-Length`) or not (chunked). Sent once.
    Reader {
        /// Where the bytes come from.
        reader: Box<dyn Read + Send>,
        /// How many bytes it gives, when known.
        len: Option<u64>,
    },
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Reader { len, .. } => write!(f, "Reader {{ len: {len:?} }}"),
        }
    }
}

impl Body {
    /// A reader of known or unknown length.
    pub fn reader(reader: impl Read + Send + 'static, len: Option<u64>) -> Body {
        Body::Reader { reader: Box::new(reader), len }
    }

    /// A file, sent with its length as `Content-Length`.
    ///
    /// # Errors
    /// When the file cannot be opened or its length read.
    pub fn file(path: impl AsRef<std::path::Path>) -> io::Result<Body> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Body::reader(file, Some(len)))
    }

    pub(crate) fn framing(&self) -> BodyFraming {
        match self {
            // No bytes is no body: a GET says no `Content-Length: 0` (a POST still does).
            Body::Empty => BodyFraming::Empty,
            Body::Bytes(b) if b.is_empty() => BodyFraming::Empty,
            Body::Bytes(b) => BodyFraming::Length(b.len() as u64),
            Body::Reader { len: Some(n), .. } => BodyFraming::Length(*n),
            Body::Reader { len: None, .. } => BodyFraming::Chunked,
        }
    }
}

impl ferry_client::RequestBody for Body {
    fn call_body(&self) -> ferry_client::CallBody {
        match self {
            Body::Empty => ferry_client::CallBody::Empty,
            Body::Bytes(b) => ferry_client::CallBody::Bytes(b.clone()),
            Body::Reader { len, .. } => ferry_client::CallBody::Stream(*len),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::Bytes(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body::Bytes(b.into())
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Body {
        Body::Bytes(Bytes::from_static(b))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::Bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Bytes(s.into())
    }
}

/// The next piece of a reader body; `None` at its end.
fn read_piece(reader: &mut dyn Read) -> Result<Option<Bytes>, Error> {
    let mut buf = BytesMut::zeroed(BODY_PIECE);
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf.freeze()));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::body(e)),
        }
    }
}

/// Sends the request and its body, queued at `now` (the caller just read the clock), until
/// the response begins (kept in the driver's pending outputs for [`head`]); interim responses
/// are kept too, and a `100 Continue` releases the body.
///
/// The request is only read (a [`Connection`](crate::Connection) keeps its own across
/// requests and retries); [`Client`](crate::Client) hands over its hop's.
pub(crate) fn send_at(
    driver: &mut Driver,
    now: Instant,
    request: &Request,
    body: &mut Body,
) -> Result<(), Error> {
    driver.stack.send_request(now, request)?;
    let mut early = Vec::new();
    loop {
        match driver.next() {
            Output::NeedBody => match body {
                // Never asked for: an empty body is complete at once.
                Body::Empty => driver.stack.finish_body(Instant::now(), None)?,
                // A `Content-Length` body ends with its last byte.
                Body::Bytes(b) => driver.stack.send_body(Instant::now(), b.clone())?,
                // At the reader's end: a chunked body ends, a short one is an error.
                Body::Reader { reader, .. } => match read_piece(reader.as_mut())? {
                    Some(piece) => driver.stack.send_body(Instant::now(), piece)?,
                    None => driver.stack.finish_body(Instant::now(), None)?,
                },
            },
            Output::Error(e) => return Err(e),
            informational @ Output::Event(Event::Informational(_)) => early.push(informational),
            // The response began (the core abandons a body it no longer wants), or the
            // connection ended: `head` reports it.
            other => {
                // Pending keeps its capacity across requests; `early` allocates only when a
                // 1xx came.
                if !early.is_empty() {
                    driver.pending.extend(early);
                }
                driver.pending.push_back(other);
                return Ok(());
            }
        }
    }
}

/// The final response head and the interim ones before it.
pub(crate) struct Head {
    pub(crate) head: ResponseHead,
    pub(crate) interim: Vec<ResponseHead>,
}

/// Waits for the final response head.
#[inline]
pub(crate) fn head(driver: &mut Driver) -> Result<Head, Error> {
    let mut interim = Vec::new();
    loop {
        match driver.next() {
            Output::Event(Event::Informational(head)) => interim.push(head),
            Output::Event(Event::ResponseHead(head)) => return Ok(Head { head, interim }),
            Output::Error(e) => return Err(e),
            // No request is outstanding (`Idle`), or the connection ended without a response.
            _ => {
                return Err(Error::misuse(ferry_client::Phase::Receive, "no response is coming"));
            }
        }
    }
}

/// A piece of the response after its head.
pub(crate) enum Piece {
    Data(Bytes),
    Trailers(Headers),
    /// The body is complete.
    End,
}

/// The next piece of the response body.
#[inline]
pub(crate) fn next_piece(driver: &mut Driver) -> Result<Piece, Error> {
    // What the stack has ready first: a piece that came with the last read needs no turn of
    // the driver's loop.
    let output = match driver.ready() {
        Some(o) => o,
        None => driver.next(),
    };
    match output {
        Output::Event(Event::Data(data)) => Ok(Piece::Data(data)),
        Output::Event(Event::Trailers(t)) => Ok(Piece::Trailers(t)),
        Output::Error(e) => Err(e),
        // Whether the connection can carry another request is the stack's to say
        // (`Stack::is_idle`), asked when the next request wants it.
        _ => Ok(Piece::End),
    }
}

/// Whether the body has ended, its end taken now when the stack has it ready without I/O (it
/// came with the last piece): the caller's next read then needs no turn of the driver's loop.
/// Anything else ready stays for [`next_piece`], which would take it as this does.
#[inline]
pub(crate) fn end_ready(driver: &mut Driver) -> bool {
    match driver.ready() {
        None => false,
        Some(o @ (Output::Event(Event::Data(_) | Event::Trailers(_)) | Output::Error(_))) => {
            driver.pending.push_front(o);
            false
        }
        // As `next_piece` ends the body.
        Some(_) => true,
    }
}

/// Body bytes straight into `out`, past the driver's buffer and the stack's pieces, when the
/// stack has a body window; `None`: take [`next_piece`].
#[inline]
pub(crate) fn read_body(driver: &mut Driver, out: &mut [u8]) -> Option<usize> {
    driver.read_body(out)
}

/// The rest of the body is not wanted: discarded (within the core's drain budget; past it
/// the connection closes). `true` when the exchange ended cleanly.
pub(crate) fn discard(driver: &mut Driver) -> bool {
    driver.stack.discard_body(Instant::now());
    loop {
        match next_piece(driver) {
            Ok(Piece::End) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// The accessors of a response's head, shared by [`Connection`](crate::Connection)'s and
/// [`Client`](crate::Client)'s responses (both hold `head`, `interim`, `proxy_reply` and
/// `remote`).
macro_rules! head_accessors {
    () => {
        /// The status code.
        #[must_use]
        pub fn status(&self) -> u16 {
            self.head.status()
        }

        /// The reason phrase.
        #[must_use]
        pub fn reason(&self) -> &str {
            self.head.reason()
        }

        /// The HTTP version the server answered with.
        #[must_use]
        pub fn version(&self) -> ferry_proto::Version {
            self.head.version()
        }

        /// The header fields, as received (`Content-Encoding` stays when a client decodes
        /// the body).
        #[must_use]
        pub fn headers(&self) -> &ferry_proto::Headers {
            self.head.headers()
        }

        /// The whole head.
        #[must_use]
        pub fn head(&self) -> &ferry_proto::ResponseHead {
            &self.head
        }

        /// The interim (1xx) responses that came first, in order.
        #[must_use]
        pub fn interim(&self) -> &[ferry_proto::ResponseHead] {
            &self.interim
        }

        /// Through a tunnel, the proxy's reply to CONNECT (status and headers).
        #[must_use]
        pub fn proxy_reply(&self) -> Option<&ferry_proto::ResponseHead> {
            self.proxy_reply.as_ref()
        }

        /// The address the connection is open to (the proxy's, through a proxy).
        #[must_use]
        pub fn remote_addr(&self) -> Option<std::net::SocketAddr> {
            self.remote
        }
    };
}
pub(crate) use head_accessors;
