//! Conversions to and from the `http` crate's types (feature `http`, which needs `std`).
//!
//! The core's own API does not need them: `http` is std-only, and the core is not.

use alloc::string::ToString;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::error::{ErrorKind, Result};
use crate::headers::{Headers, printable};
use crate::request::{BodyFraming, Method, Request};
use crate::response::{ResponseHead, Version};
use crate::url::Url;

impl From<&http::Method> for Method {
    fn from(m: &http::Method) -> Method {
        Method::new(Bytes::copy_from_slice(m.as_str().as_bytes()))
    }
}

impl Request {
    /// Builds a request from an `http::Request`'s method, absolute URI and fields; the body
    /// framing is given separately, since `B` says nothing about it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] when the URI is not an absolute `http`/`https` URI.
    ///
    /// ```
    /// let req = http::Request::post("http://example.com/x").header("a", "1").body(()).unwrap();
    /// let req = ferry_proto::Request::from_http(&req, ferry_proto::BodyFraming::Length(3)).unwrap();
    /// assert_eq!(req.method().as_bytes(), b"POST");
    /// assert_eq!(req.url().path_and_query(), "/x");
    /// ```
    pub fn from_http<B>(req: &http::Request<B>, body: BodyFraming) -> Result<Request> {
        let url = Url::parse(&req.uri().to_string())?;
        let mut out = Request::new(req.method().into(), url).body(body);
        for (name, value) in req.headers() {
            out = out.header(
                Bytes::copy_from_slice(name.as_str().as_bytes()),
                Bytes::copy_from_slice(value.as_bytes()),
            );
        }
        Ok(out)
    }
}

impl Headers {
    /// The fields as an `http::HeaderMap` (names lower-cased by `http`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidHeaderValue`] for a value `http` refuses (none that the core
    /// accepted so far, since both follow RFC 9110 §5.5).
    pub fn to_header_map(&self) -> Result<http::HeaderMap> {
        let mut map = http::HeaderMap::with_capacity(self.len());
        for (name, value) in self.iter() {
            let bad = || ErrorKind::InvalidHeaderValue { name: printable(name.as_bytes()) };
            let n = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ErrorKind::InvalidHeaderName { name: printable(name.as_bytes()) })?;
            let v = http::HeaderValue::from_bytes(value).map_err(|_| bad())?;
            map.append(n, v);
        }
        Ok(map)
    }

    /// Fields from an `http::HeaderMap`, checked like everything the core writes.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidHeaderValue`] for a value with a control byte (`http` allows some).
    pub fn from_header_map(map: &http::HeaderMap) -> Result<Headers> {
        Headers::from_pairs(
            map.iter().map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())).collect::<Vec<_>>(),
        )
    }
}

impl ResponseHead {
    /// The head as an `http::Response<()>`: status, version and fields.
    ///
    /// # Errors
    /// As [`Headers::to_header_map`].
    ///
    /// ```
    /// let mut input = bytes::BytesMut::from(&b"HTTP/1.1 404 Not Found\r\nX-A: b\r\n\r\n"[..]);
    /// let head = ferry_proto::wire::parse_response_head(&mut input, &Default::default()).unwrap().unwrap();
    /// let resp = head.to_http().unwrap();
    /// assert_eq!(resp.status(), http::StatusCode::NOT_FOUND);
    /// assert_eq!(resp.headers()["x-a"], "b");
    /// ```
    pub fn to_http(&self) -> Result<http::Response<()>> {
        let mut resp = http::Response::new(());
        *resp.status_mut() = http::StatusCode::from_u16(self.status())
            .map_err(|_| ErrorKind::InvalidHead { what: crate::HeadFault::StatusOutOfRange })?;
        *resp.version_mut() = match self.version() {
            Version::Http10 => http::Version::HTTP_10,
            Version::Http11 => http::Version::HTTP_11,
        };
        *resp.headers_mut() = self.headers().to_header_map()?;
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let h =
            Headers::from_pairs([("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("X", "\u{e9}")])
                .unwrap();
        let map = h.to_header_map().unwrap();
        assert_eq!(map.get_all("set-cookie").iter().count(), 2);
        let back = Headers::from_header_map(&map).unwrap();
        assert_eq!(back.get_all("set-cookie").collect::<Vec<_>>(), [&b"a=1"[..], b"b=2"]);
        let req = http::Request::get("ftp://x/").body(()).unwrap();
        assert!(Request::from_http(&req, BodyFraming::Empty).is_err());
        let req = http::Request::get("/relative").body(()).unwrap();
        assert!(Request::from_http(&req, BodyFraming::Empty).is_err());
    }
}
