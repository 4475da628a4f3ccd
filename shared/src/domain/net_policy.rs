//! Which network targets Hookline may send to (SSRF protection).
//!
//! A webhook URL is chosen by a customer, so without a policy Hookline could be made to call
//! the cloud metadata service or a private network. The policy is checked twice: when a webhook
//! is saved (for IP literals and `localhost`, so a bad URL is a clear 400) and, by the sender,
//! on every resolved address at connect time (so DNS rebinding cannot get around it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::domain::error::DomainError;
use crate::domain::limits::MAX_URL_LEN;

/// True for addresses a webhook must never reach unless the deployment allows private targets:
/// loopback, private, link-local (incl. 169.254.169.254), CGNAT, multicast, unspecified,
/// broadcast, documentation and other reserved ranges, for IPv4 and IPv6 (incl. IPv4-mapped).
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved 240.0.0.0/4
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation 2001:db8::/32
        || first == 0x0064 && ip.segments()[1] == 0xff9b // NAT64 64:ff9b::/96 can reach IPv4 space
        || ip.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
}

/// Validates a webhook URL: absolute http(s) with a host, no credentials in it, bounded length,
/// and (unless `allow_private`) not naming a forbidden address or `localhost` directly.
pub fn validate_webhook_url(raw: &str, allow_private: bool) -> Result<Url, DomainError> {
    let invalid = |msg: &str| DomainError::invalid("invalid_url", msg);
    if raw.len() > MAX_URL_LEN {
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
        let forbidden = match host {
            Host::Ipv4(ip) => is_forbidden_ip(IpAddr::V4(ip)),
            Host::Ipv6(ip) => is_forbidden_ip(IpAddr::V6(ip)),
            Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        };
        if forbidden {
            return Err(DomainError::invalid(
                "forbidden_url",
                "url points to a loopback, private, link-local or otherwise reserved address",
            ));
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
        ] {
            let err = validate_webhook_url(bad, false).expect_err(bad);
            assert_eq!(err.code(), code, "{bad}");
        }
        assert!(validate_webhook_url("http://127.0.0.1:9000/", true).is_ok());
    }
}
