//! What ferry tells `tracing`: heads with their credentials masked.

use std::fmt;

/// Field names whose values are credentials: shown as `***`.
const SECRET: [&str; 5] =
    ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"];

/// Header fields as `Name: value` lines joined by `\n`, credentials masked.
pub(crate) struct Fields(String);

impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lines of `fields`, each secret value masked (its scheme kept: `Basic ***`).
pub(crate) fn fields<'a, V: AsRef<[u8]> + 'a>(
    fields: impl Iterator<Item = (&'a str, V)>,
) -> Fields {
    let mut out = String::new();
    for (name, value) in fields {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&mask(name, value.as_ref()));
    }
    Fields(out)
}

/// `value` as text, or `***` (after the auth scheme, if any) when `name` carries a secret.
pub(crate) fn mask(name: &str, value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if !SECRET.iter().any(|s| name.eq_ignore_ascii_case(s)) {
        return text.into_owned();
    }
    match text.split_once(' ') {
        Some((scheme, _)) if name.to_ascii_lowercase().ends_with("authorization") => {
            format!("{scheme} ***")
        }
        _ => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_and_the_rest_shown() {
        let f = fields(
            [
                ("Host", &b"example.com"[..]),
                ("Proxy-Authorization", b"Basic dXNlcjpzZWNyZXQ="),
                ("authorization", b"Bearer abc.def"),
                ("Cookie", b"session=42"),
                ("Set-Cookie", b"id=7; Path=/"),
            ]
            .into_iter(),
        );
        assert_eq!(
            f.to_string(),
            "Host: example.com\nProxy-Authorization: Basic ***\nauthorization: Bearer ***\n\
             Cookie: ***\nSet-Cookie: ***"
        );
    }
}
