//! A cookie jar, as a Requests session keeps one: RFC 6265's domain and path rules by
//! `cookie_store`, cookies sent only to the hosts and paths they belong to.

use ferry_proto::{Headers, Url};

/// Cookies set by responses, offered to later requests.
#[derive(Debug, Default)]
pub struct Jar {
    store: cookie_store::CookieStore,
}

impl Jar {
    /// An empty jar.
    #[must_use]
    pub fn new() -> Jar {
        Jar::default()
    }

    fn url(url: &Url) -> Option<url::Url> {
        url::Url::parse(&url.to_string()).ok()
    }

    /// Keeps the `Set-Cookie` fields of a response to `url` that RFC 6265 lets it set.
    pub fn store(&mut self, url: &Url, headers: &Headers) {
        let Some(u) = Jar::url(url) else { return };
        let cookies = headers
            .get_all("set-cookie")
            .filter_map(|v| std::str::from_utf8(v).ok())
            .filter_map(|v| cookie_store::RawCookie::parse(v.to_owned()).ok());
        self.store.store_response_cookies(cookies, &u);
    }

    /// The `Cookie` value for a request to `url`, if any cookie matches it.
    #[must_use]
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let u = Jar::url(url)?;
        let pairs: Vec<String> =
            self.store.get_request_values(&u).map(|(n, v)| format!("{n}={v}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Cookies held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.store.iter_unexpired().count()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("a valid URL")
    }

    #[test]
    fn cookies_go_only_where_they_belong() {
        let mut jar = Jar::new();
        let set = Headers::from_pairs([
            ("Set-Cookie", "a=1; Path=/"),
            ("Set-Cookie", "b=2; Path=/account"),
            ("Set-Cookie", "c=3; Domain=other.example"),
        ])
        .expect("valid");
        jar.store(&url("http://shop.example/login"), &set);
        assert_eq!(jar.header_for(&url("http://shop.example/")).as_deref(), Some("a=1"));
        let mut both: Vec<String> = jar
            .header_for(&url("http://shop.example/account/x"))
            .expect("two")
            .split("; ")
            .map(str::to_owned)
            .collect();
        both.sort();
        assert_eq!(both, ["a=1", "b=2"]);
        assert_eq!(jar.header_for(&url("http://other.example/")), None);
        assert_eq!(jar.header_for(&url("http://evil.example/")), None);
        assert_eq!(jar.len(), 2);
    }
}
