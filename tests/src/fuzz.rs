//! The fuzz targets' logic, as plain functions over bytes.
//!
//! Each target in `fuzz/fuzz_targets/<name>.rs` is one call,
//! `fuzz_target!(|data: &[u8]| ferry_tests::fuzz::<name>(data));`, so libFuzzer and plain
//! `cargo test` run the same code: `tests/fuzz_corpus.rs` replays every file of
//! `fuzz/seeds/<name>/`, `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/` through
//! [`TARGETS`] (rustls's `test_read_fuzz_corpus` does the same).
//!
//! To add a target: write its function here, add a row to [`TARGETS`], add
//! `fuzz/fuzz_targets/<name>.rs` and its `[[bin]]` in `fuzz/Cargo.toml`, and seed
//! `fuzz/seeds/<name>/` (hand-written, descriptive names) or let the fuzzer fill
//! `fuzz/corpus/<name>/` (minimized, hash names). A function checks properties by panicking;
//! returning is a pass.
//!
//! The stream targets ([`response_stream`], [`connect_reply`], [`tunnel_tls`]) read their input as a small
//! header and a byte stream (see `stream.rs`): a mode byte, a count of cuts, the cuts, then the
//! bytes the peer sends. [`request_encoder`] takes structured input through `arbitrary`;
//! [`proxy_url`] and [`no_proxy`] take text.

use ferry_proto::Url;

mod connect_reply;
mod no_proxy;
mod oracle;
mod proxy_url;
mod request_encoder;
mod response_stream;
mod stream;
mod tunnel_tls;

pub use connect_reply::connect_reply;
pub use no_proxy::no_proxy;
pub use proxy_url::proxy_url;
pub use request_encoder::request_encoder;
pub use response_stream::response_stream;
pub use tunnel_tls::tunnel_tls;

/// A fuzz target's logic: panics when a property fails.
pub type Target = fn(&[u8]);

/// Every fuzz target, by the name of its file in `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("connect_reply", connect_reply),
    ("no_proxy", no_proxy),
    ("proxy_url", proxy_url),
    ("request_encoder", request_encoder),
    ("response_stream", response_stream),
    ("tunnel_tls", tunnel_tls),
    ("url", url),
];

/// [`Url::parse`] on the input as lossy UTF-8. It never panics, and a URL it accepts
///
/// - has an origin-form target that starts with `/` and has no byte `<= 0x20` or `0x7F`;
/// - shows (`Display`, `host_header()`, `authority()`) no CR, LF or NUL;
/// - shows (`Display`) an absolute-form that re-parses to the same URL, less the userinfo and
///   a default port written out, and shows the same again;
/// - joined with an empty reference (RFC 3986 §5.2.2) is itself, and joined with any input
///   ([`Url::join`]) never panics and gives a URL whose `Display` re-parses to itself;
/// - shows the same with or without its userinfo. This is how "the password never reaches the
///   output" is checked soundly: a password may legitimately equal the host or part of the path
///   (`http://example.com:example.com@example.com/`), so a substring test would raise false
///   alarms, while any leak of the userinfo would make the two outputs differ.
pub fn url(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let base = Url::parse("http://u@a/b/c/d;p?q").unwrap_or_else(|e| panic!("{e}"));
    check_join(&input, &base);
    let Ok(url) = Url::parse(&input) else { return };
    let shown = url.to_string();
    let host_header = url.host_header().to_owned();
    let authority = url.authority().to_string();
    let target = url.path_and_query();

    assert!(target.starts_with('/'), "{input:?}: target {target:?} does not start with '/'");
    assert!(
        !target.bytes().any(|b| b <= 0x20 || b == 0x7f),
        "{input:?}: target {target:?} has a space or control byte"
    );
    for (what, out) in [("Display", &shown), ("Host", &host_header), ("authority", &authority)] {
        assert!(!out.contains(['\r', '\n', '\0']), "{input:?}: {what} {out:?} has CR, LF or NUL");
    }

    let again = Url::parse(&shown).unwrap_or_else(|e| panic!("{input:?}: {shown:?} fails: {e}"));
    let port = url.port().filter(|&p| p != url.scheme().default_port());
    let expected = Url::from_parts(url.scheme(), url.host().clone(), port, target)
        .unwrap_or_else(|e| panic!("{input:?}: from_parts refuses its own target: {e}"));
    assert_eq!(again, expected, "{input:?}: {shown:?} re-parses to another URL");
    assert_eq!(again.to_string(), shown, "{input:?}: Display is not stable");

    assert_eq!(url.join("").as_ref(), Ok(&url), "{input:?}: joined with \"\"");
    check_join(&input, &url);

    if let Some(userinfo) = url.userinfo() {
        let (scheme, rest) = input.split_once("://").unwrap_or_else(|| panic!("{input:?}"));
        let after = rest
            .strip_prefix(userinfo)
            .and_then(|r| r.strip_prefix('@'))
            .unwrap_or_else(|| panic!("{input:?}: userinfo {userinfo:?} is not where it was"));
        let bare = Url::parse(&format!("{scheme}://{after}"))
            .unwrap_or_else(|e| panic!("{input:?}: fails without its userinfo: {e}"));
        assert_eq!(bare.to_string(), shown, "{input:?}: the userinfo changes Display");
        assert_eq!(bare.host_header(), host_header, "{input:?}: the userinfo changes Host");
        assert_eq!(
            bare.authority().to_string(),
            authority,
            "{input:?}: the userinfo changes the authority"
        );
    }
}

/// `base.join(reference)` never panics, and what it gives shows a URL that re-parses to the
/// same and shows the same again.
fn check_join(reference: &str, base: &Url) {
    let Ok(joined) = base.join(reference) else { return };
    let shown = joined.to_string();
    let again = Url::parse(&shown).unwrap_or_else(|e| panic!("{reference:?}: {shown:?}: {e}"));
    assert_eq!(again.to_string(), shown, "{reference:?}: a joined URL is not stable");
    assert!(!shown.contains(['\r', '\n', '\0', ' ']), "{reference:?}: {shown:?}");
}
