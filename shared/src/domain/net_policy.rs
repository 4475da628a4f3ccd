//! Which network targets Hookline may send to (SSRF protection).
//!
//! A webhook URL is chosen by a customer, so without a policy Hookline could be made to call
//! the cloud metadata service or a private network. The policy is checked twice: when a webhook
//! is saved (for IP literals and `localhost`, so a bad URL is a clear 400) and, by the sender,
//! on every resolved address at connect time (so DNS rebinding cannot get around it).

use std::net::IpAddr;

use url::{Host, Url};

use crate::domain::error::DomainError;
use crate::domain::limits::MAX_URL_LEN;
use crate::domain::special_ranges;

/// True for addresses a webhook must never reach unless the deployment allows private targets:
/// every range the IANA special-purpose registries do not call globally reachable, and the
/// 6to4, Teredo and NAT64 forms of such an IPv4 address (`special_ranges` holds the table).
/// The one judgement of an address: the API at save time, the sender at connect time.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    special_ranges::judge(ip).is_err()
}

/// Validates a webhook URL: absolute http(s) with a host, no credentials in it, bounded length,
/// and (unless `allow_private`) not naming a forbidden address or `localhost` directly.
pub fn validate_webhook_url(raw: &str, allow_private: bool) -> Result<Url, DomainError> {
    let invalid = |msg: &str| DomainError::invalid("invalid_url", msg);
    if raw.chars().count() > MAX_URL_LEN {
        return Err(invalid(&format!("url must be at most {MAX_URL_LEN} characters")));
    }
    let url = Url::parse(raw).map_err(|e| invalid(&format!("url is not a valid absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url must use http or https"));
    }
    let Some(host) = url.host() else {
        return Err(invalid("url must have a host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url must not contain credentials; use the webhook's auth settings"));
    }
    if url.fragment().is_some() {
        return Err(invalid("url must not contain a fragment"));
    }
    if !allow_private {
        let refusal = match host {
            Host::Ipv4(ip) => special_ranges::judge(IpAddr::V4(ip)).err().map(|r| format!("url points to {r}")),
            Host::Ipv6(ip) => special_ranges::judge(IpAddr::V6(ip)).err().map(|r| format!("url points to {r}")),
            Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                (name == "localhost" || name.ends_with(".localhost"))
                    .then(|| "url points to localhost (RFC 6761), which is not globally reachable".to_string())
            }
        };
        if let Some(message) = refusal {
            return Err(DomainError::unprocessable("forbidden_url", message));
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "ff02::1",
            "64:ff9b::a9fe:a9fe",
        ] {
            let ip: IpAddr = ip.parse().expect(ip);
            assert!(is_forbidden_ip(ip), "{ip} should be forbidden");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            let ip: IpAddr = ip.parse().expect(ip);
            assert!(!is_forbidden_ip(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn url_rules() {
        assert!(validate_webhook_url("https://example.com/hook?x=1", false).is_ok());
        assert!(validate_webhook_url("http://example.com:8080/", false).is_ok());
        for (bad, code) in [
            ("ftp://example.com/", "invalid_url"),
            ("not a url", "invalid_url"),
            ("https://user:pw@example.com/", "invalid_url"),
            ("http://127.0.0.1:9000/", "forbidden_url"),
            ("http://169.254.169.254/latest/meta-data", "forbidden_url"),
            ("http://[::1]/", "forbidden_url"),
            ("http://localhost:8080/", "forbidden_url"),
            ("http://api.localhost/", "forbidden_url"),
            // The special-purpose ranges issue 17 found accepted, and the 6to4 form of loopback.
            ("http://[2002:7f00:1::1]/", "forbidden_url"),
            ("http://[2001::1]/", "forbidden_url"),
            ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "forbidden_url"),
            ("http://[::ffff:8.8.8.8]/", "forbidden_url"),
            ("http://[100::1]/", "forbidden_url"),
            ("http://[3fff::1]/", "forbidden_url"),
            ("http://[5f00::1]/", "forbidden_url"),
            ("http://192.88.99.1/", "forbidden_url"),
        ] {
            let err = validate_webhook_url(bad, false).expect_err(bad);
            assert_eq!(err.code(), code, "{bad}");
        }
        assert!(validate_webhook_url("http://127.0.0.1:9000/", true).is_ok());
        // A 6to4 address of a public IPv4 address is a public address.
        assert!(validate_webhook_url("http://[2002:808:808::1]/", false).is_ok());
    }

    #[test]
    fn a_refused_url_says_which_range() {
        // GIVEN a 6to4 URL that embeds 127.0.0.1
        let err = validate_webhook_url("http://[2002:7f00:1::1]/", false).expect_err("6to4 loopback");
        // THEN the message names the range, the embedded address and its range
        let message = err.to_string();
        assert!(
            message.contains("2002::/16") && message.contains("127.0.0.1") && message.contains("Loopback"),
            "{message}"
        );
    }
}
