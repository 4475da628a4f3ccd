//! The tenant console's deployment settings: its branding, where it may be embedded, and how
//! long its one-time links and sessions last.

use std::time::Duration;

/// The console's settings (template parameters, read by `config`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSettings {
    /// Shown in the console's title bar and page title.
    pub product_name: String,
    /// The console's accent colour, `#rrggbb`.
    pub accent_color: String,
    /// Origins (`https://app.example.com`) whose pages may show the console in an iframe.
    pub frame_ancestors: Vec<String>,
    /// How long a console link may be opened (once).
    pub link_ttl: Duration,
    /// How long a console session lasts once its link was opened.
    pub session_ttl: Duration,
    /// Where the console is reached (`https://hooks.example.com`), for the links it hands out;
    /// when unset, the request's own host and scheme.
    pub public_url: Option<String>,
}

pub const DEFAULT_PRODUCT_NAME: &str = "Hookline";
pub const DEFAULT_ACCENT_COLOR: &str = "#4f46e5";
pub const DEFAULT_LINK_MINUTES: u64 = 15;
pub const DEFAULT_SESSION_MINUTES: u64 = 60;

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            product_name: DEFAULT_PRODUCT_NAME.into(),
            accent_color: DEFAULT_ACCENT_COLOR.into(),
            frame_ancestors: Vec::new(),
            link_ttl: Duration::from_secs(DEFAULT_LINK_MINUTES * 60),
            session_ttl: Duration::from_secs(DEFAULT_SESSION_MINUTES * 60),
            public_url: None,
        }
    }
}

/// A product name: 1 to 60 characters, no control characters.
pub fn valid_product_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=60).contains(&count) && !name.chars().any(char::is_control)
}

/// A colour as CSS and the CSP allow without escaping: `#` and six hex digits.
pub fn valid_accent_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// An origin a CSP `frame-ancestors` can name: `https://host[:port]` (or `http://` for a
/// loopback or local host), nothing else: no path, wildcard, quote or separator.
pub fn valid_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else { return false };
    let host = rest.rsplit_once(':').map_or(rest, |(h, port)| {
        if !port.is_empty() && port.len() <= 5 && port.chars().all(|c| c.is_ascii_digit()) { h } else { "" }
    });
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && !host.starts_with(['.', '-']);
    let local = host == "localhost" || host == "127.0.0.1";
    host_ok && (scheme == "https" || (scheme == "http" && local))
}

/// A public URL: an origin as above, optionally with a trailing slash.
pub fn valid_public_url(url: &str) -> bool {
    valid_origin(url.strip_suffix('/').unwrap_or(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_values_are_checked() {
        assert!(valid_accent_color("#4F46e5"));
        for bad in ["4f46e5", "#4f46e", "#4f46e5;", "red", "#gggggg"] {
            assert!(!valid_accent_color(bad), "{bad}");
        }
        for good in ["https://app.example.com", "https://app.example.com:8443", "http://localhost:3000"] {
            assert!(valid_origin(good), "{good}");
        }
        for bad in [
            "*",
            "https://*.example.com",
            "https://a.com/path",
            "javascript:x",
            "http://evil.com",
            "https://a.com 'self'",
            "https://:443",
        ] {
            assert!(!valid_origin(bad), "{bad}");
        }
        assert!(valid_product_name("Nector Webhooks"));
        assert!(!valid_product_name(""));
        assert!(!valid_product_name("a\nb"));
    }
}
