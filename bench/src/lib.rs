//! What the origin, the clients and the runner of `cargo xtask bench` share: the canned
//! responses (so the raw socket loop knows how many bytes each one is), the client's CPU
//! clock, and the counting allocator.
//!
//! Three binaries: `origin` (the loopback server, its own process), `client` (one run of one
//! client on one workload, measuring itself) and `bench` (the runner: it spawns both, pins
//! them, interleaves the runs and prints the table).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// The chunk size of the chunked downloads.
pub const CHUNK: usize = 16 * 1024;

/// The fields of the 20-field head: what an nginx origin behind a CDN sends for a small HTML
/// page, the same fields as ferry-proto's `benches/common` (so the figures compare with the
/// core's own). The framing field comes after them.
pub const HEAD20_FIELDS: &str = concat!(
    "Server: nginx/1.25.3\r\n",
    "Date: Tue, 18 Nov 2025 10:21:34 GMT\r\n",
    "Content-Type: text/html; charset=utf-8\r\n",
    "Connection: keep-alive\r\n",
    "Cache-Control: public, max-age=3600, stale-while-revalidate=60\r\n",
    "ETag: \"6553f2a1-400\"\r\n",
    "Last-Modified: Tue, 14 Nov 2025 22:41:05 GMT\r\n",
    "Vary: Accept-Encoding, Origin\r\n",
    "Accept-Ranges: bytes\r\n",
    "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n",
    "Content-Security-Policy: default-src 'self'; img-src 'self' https://cdn.example.com\r\n",
    "X-Content-Type-Options: nosniff\r\n",
    "Referrer-Policy: strict-origin-when-cross-origin\r\n",
    "Set-Cookie: session=8f14e45fceea167a5a36dedd4bea2543; Path=/; Secure; HttpOnly; SameSite=Lax\r\n",
    "Age: 127\r\n",
    "X-Cache: HIT, HIT\r\n",
    "X-Served-By: cache-fra-etou8220123-FRA, cache-ams-eham2210040-AMS\r\n",
    "Via: 1.1 varnish, 1.1 varnish\r\n",
    "Alt-Svc: h3=\":443\"; ma=86400\r\n",
);

/// A canned response, named by the request path that asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Canned {
    /// `/small`: `Content-Length: 2`, `hi`: the smallest useful response.
    Small,
    /// `/h20`: the 20-field head with `Content-Length: 1024` and 1 KiB of body.
    Head20,
    /// `/len/N`: a short head, `Content-Length: N` and N bytes.
    Length(u64),
    /// `/chunked/N`: a short head and N bytes in chunks of [`CHUNK`] (N a multiple of it).
    Chunked(u64),
}

impl Canned {
    /// The response a request path asks for.
    #[must_use]
    pub fn from_path(path: &str) -> Option<Canned> {
        match path {
            "/small" => Some(Canned::Small),
            "/h20" => Some(Canned::Head20),
            _ => {
                if let Some(n) = path.strip_prefix("/len/") {
                    n.parse().ok().map(Canned::Length)
                } else if let Some(n) = path.strip_prefix("/chunked/") {
                    let n: u64 = n.parse().ok()?;
                    n.is_multiple_of(CHUNK as u64).then_some(Canned::Chunked(n))
                } else {
                    None
                }
            }
        }
    }

    /// The request path.
    #[must_use]
    pub fn path(self) -> String {
        match self {
            Canned::Small => "/small".to_owned(),
            Canned::Head20 => "/h20".to_owned(),
            Canned::Length(n) => format!("/len/{n}"),
            Canned::Chunked(n) => format!("/chunked/{n}"),
        }
    }

    /// The head, status line to the empty line.
    #[must_use]
    pub fn head(self) -> String {
        match self {
            Canned::Small => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".to_owned(),
            Canned::Head20 => {
                format!("HTTP/1.1 200 OK\r\n{HEAD20_FIELDS}Content-Length: 1024\r\n\r\n")
            }
            Canned::Length(n) => format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\n\r\n"
            ),
            Canned::Chunked(_) => "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                                   Transfer-Encoding: chunked\r\n\r\n"
                .to_owned(),
        }
    }

    /// The body's length (the payload, without chunk framing).
    #[must_use]
    pub fn body_len(self) -> u64 {
        match self {
            Canned::Small => 2,
            Canned::Head20 => 1024,
            Canned::Length(n) | Canned::Chunked(n) => n,
        }
    }

    /// How many bytes the whole response is on the wire: what the raw socket loop reads.
    #[must_use]
    pub fn wire_len(self) -> u64 {
        let head = self.head().len() as u64;
        match self {
            Canned::Chunked(n) => {
                let frame = format!("{CHUNK:x}\r\n").len() as u64 + 2;
                head + n + (n / CHUNK as u64) * frame + b"0\r\n\r\n".len() as u64
            }
            _ => head + self.body_len(),
        }
    }
}

/// The request every client sends, as the raw socket loop writes it.
#[must_use]
pub fn raw_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// This process's CPU time so far, user plus system, in microseconds (`getrusage`,
/// `RUSAGE_SELF`: every thread, so reqwest's runtime thread is counted too).
#[must_use]
pub fn cpu_micros() -> u64 {
    // SAFETY: `getrusage` writes a `rusage` into the zeroed value it is given and reads
    // nothing else; `RUSAGE_SELF` is always valid.
    #[allow(unsafe_code)]
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

/// What the kernel accounts a set of processes: user and system CPU time (µs), voluntary and
/// involuntary context switches, minor page faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// User CPU time, µs.
    pub user_us: u64,
    /// System CPU time, µs.
    pub sys_us: u64,
    /// Voluntary context switches (the process waited: a blocking read with nothing to read).
    pub vcsw: u64,
    /// Involuntary context switches (preempted).
    pub ivcsw: u64,
    /// Minor page faults.
    pub minflt: u64,
}

impl Usage {
    /// `self - before`, field by field.
    #[must_use]
    pub fn since(self, before: Usage) -> Usage {
        Usage {
            user_us: self.user_us.saturating_sub(before.user_us),
            sys_us: self.sys_us.saturating_sub(before.sys_us),
            vcsw: self.vcsw.saturating_sub(before.vcsw),
            ivcsw: self.ivcsw.saturating_sub(before.ivcsw),
            minflt: self.minflt.saturating_sub(before.minflt),
        }
    }
}

/// The totals of every child process waited for so far (`getrusage(RUSAGE_CHILDREN)`): the
/// runner takes it around each client run, which then counts the whole client process (its
/// setup and warm-up too), split into user and system time.
#[must_use]
pub fn children_usage() -> Usage {
    // SAFETY: as in `cpu_micros`; `RUSAGE_CHILDREN` is always valid.
    #[allow(unsafe_code)]
    let u = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Usage {
        user_us: micros(u.ru_utime),
        sys_us: micros(u.ru_stime),
        vcsw: u.ru_nvcsw as u64,
        ivcsw: u.ru_nivcsw as u64,
        minflt: u.ru_minflt as u64,
    }
}

/// A global allocator that counts allocations and the bytes they asked for, over the
/// system allocator. Reallocations count as one allocation of the new size.
pub struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// Allocations and bytes allocated so far, by every thread.
#[must_use]
pub fn alloc_counts() -> (u64, u64) {
    (ALLOCS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed))
}

// SAFETY: every call is passed straight to `System`, which upholds `GlobalAlloc`'s contract;
// the counters are atomics and never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// How many body bytes one write of a large body carries.
const BLOCK: usize = 1024 * 1024;

/// Answers request after request on one connection until the peer closes it or breaks HTTP:
/// the loopback origin's whole behaviour (`origin` runs it on a thread per connection).
pub fn serve<S: Read + Write>(mut s: S) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut filled = 0;
    let body_block = vec![b'x'; BLOCK];
    let chunk_block = chunk_block();
    // The last small response, whole: a keep-alive loop asks for the same one each time.
    let mut cached: Option<(Canned, Vec<u8>)> = None;
    loop {
        let end = loop {
            if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if filled == buf.len() {
                return;
            }
            match s.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
        };
        let Some(canned) = target(&buf[..end]).and_then(Canned::from_path) else {
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            let _ = s.flush();
            return;
        };
        buf.copy_within(end..filled, 0);
        filled -= end;
        let written = match canned {
            Canned::Small | Canned::Head20 => {
                if cached.as_ref().is_none_or(|(c, _)| *c != canned) {
                    let mut whole = canned.head().into_bytes();
                    whole.resize(whole.len() + canned.body_len() as usize, b'x');
                    if canned == Canned::Small {
                        whole.truncate(whole.len() - 2);
                        whole.extend_from_slice(b"hi");
                    }
                    cached = Some((canned, whole));
                }
                let whole = cached.as_ref().map_or(&[][..], |(_, w)| w.as_slice());
                s.write_all(whole)
            }
            Canned::Length(n) => write_length(&mut s, canned, n, &body_block),
            Canned::Chunked(n) => write_chunked(&mut s, canned, n, &chunk_block),
        };
        if written.and_then(|()| s.flush()).is_err() {
            return;
        }
    }
}

/// The request target of a request head.
fn target(head: &[u8]) -> Option<&str> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let _method = parts.next()?;
    parts.next()
}

fn write_length<S: Write>(s: &mut S, canned: Canned, n: u64, block: &[u8]) -> std::io::Result<()> {
    s.write_all(canned.head().as_bytes())?;
    let mut left = n;
    while left > 0 {
        let piece = left.min(block.len() as u64) as usize;
        s.write_all(&block[..piece])?;
        left -= piece as u64;
    }
    Ok(())
}

/// 64 framed chunks of [`CHUNK`] bytes, written as one piece.
fn chunk_block() -> Vec<u8> {
    let mut one = format!("{CHUNK:x}\r\n").into_bytes();
    one.resize(one.len() + CHUNK, b'x');
    one.extend_from_slice(b"\r\n");
    one.repeat(BLOCK / CHUNK)
}

fn write_chunked<S: Write>(s: &mut S, canned: Canned, n: u64, block: &[u8]) -> std::io::Result<()> {
    s.write_all(canned.head().as_bytes())?;
    let chunks = n / CHUNK as u64;
    let per_block = (BLOCK / CHUNK) as u64;
    let framed = block.len() / per_block as usize;
    for _ in 0..chunks / per_block {
        s.write_all(block)?;
    }
    let rest = (chunks % per_block) as usize;
    s.write_all(&block[..rest * framed])?;
    s.write_all(b"0\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for c in
            [Canned::Small, Canned::Head20, Canned::Length(5), Canned::Chunked(2 * CHUNK as u64)]
        {
            assert_eq!(Canned::from_path(&c.path()), Some(c));
        }
        assert_eq!(Canned::from_path("/chunked/5"), None);
        assert_eq!(Canned::from_path("/nope"), None);
    }

    #[test]
    fn head20_has_twenty_fields() {
        let head = Canned::Head20.head();
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut fields);
        assert!(matches!(response.parse(head.as_bytes()), Ok(httparse::Status::Complete(_))));
        assert_eq!(response.headers.len(), 20);
    }

    /// A connection in memory: the requests to read, the bytes written.
    struct Memory {
        input: std::io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Memory {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Memory {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The bytes the origin writes for these requests, one after the other on one connection.
    fn served(paths: &[Canned]) -> Vec<u8> {
        let requests: Vec<u8> = paths.iter().flat_map(|c| raw_request(&c.path())).collect();
        let mut m = Memory { input: std::io::Cursor::new(requests), output: Vec::new() };
        serve(&mut m);
        m.output
    }

    /// The raw socket loop reads exactly `wire_len` bytes: it must be what the origin writes.
    #[test]
    fn wire_len_is_what_the_origin_writes() {
        let cases = [
            Canned::Small,
            Canned::Head20,
            Canned::Length(3 * 1024 * 1024 + 5),
            Canned::Chunked(0),
            Canned::Chunked(CHUNK as u64),
            Canned::Chunked(65 * CHUNK as u64),
        ];
        let mut expected = 0;
        for c in cases {
            assert_eq!(served(&[c]).len() as u64, c.wire_len(), "{c:?}");
            expected += c.wire_len();
        }
        assert_eq!(served(&cases).len() as u64, expected, "kept alive");
    }

    /// The chunked body decodes to its length, chunk by chunk, and ends the message.
    #[test]
    fn chunked_body_decodes() {
        let c = Canned::Chunked(70 * CHUNK as u64);
        let wire = served(&[c]);
        let mut at = c.head().len();
        let mut body = 0;
        loop {
            let Ok(httparse::Status::Complete((used, size))) =
                httparse::parse_chunk_size(&wire[at..])
            else {
                panic!("a chunk-size line at {at}");
            };
            at += used + size as usize;
            assert_eq!(&wire[at..at + 2], b"\r\n");
            at += 2;
            body += size;
            if size == 0 {
                break;
            }
        }
        assert_eq!((body, at), (c.body_len(), wire.len()));
    }

    #[test]
    fn small_body_is_hi_and_unknown_paths_get_404() {
        assert!(served(&[Canned::Small]).ends_with(b"\r\n\r\nhi"));
        let mut m =
            Memory { input: std::io::Cursor::new(raw_request("/nope")), output: Vec::new() };
        serve(&mut m);
        assert!(m.output.starts_with(b"HTTP/1.1 404"));
    }
}
