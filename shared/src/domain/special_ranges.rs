//! The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890), as data, and the one
//! judgement built on them: may Hookline send a webhook to this address?
//!
//! Every entry of both registries is here (as published in 2025), plus the few ranges the
//! registries leave to other documents but that are no unicast destination on the Internet
//! (IPv4 multicast, IPv6 multicast and deprecated site-local, IPv6 outside `2000::/3`). The
//! most specific range that holds an address decides; an address in none is ordinary global
//! unicast. A range is judged as the registry's "Globally Reachable" column says, except:
//! - `N/A` and deprecated entries (`192.88.99.0/24`, `2001:10::/28`) are refused;
//! - the three forms that carry a routable IPv4 address (NAT64 `64:ff9b::/96`, 6to4 and
//!   Teredo) are judged by that IPv4 address, so `2002:7f00:1::` cannot reach 127.0.0.1;
//! - IPv4-mapped `::ffff:0:0/96` (registry: not global) and the deprecated IPv4-compatible
//!   `::/96` are refused whatever they embed: a socket may treat them as the IPv4 address,
//!   and no one needs them to name a public host.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network: an address and the length of its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    V4(Ipv4Addr, u8),
    V6(Ipv6Addr, u8),
}

/// What the registry says of reaching a range from the Internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Globally reachable: a webhook may point there.
    Global,
    /// Not globally reachable (or `N/A`, or deprecated): refused.
    Local,
    /// Reachable through the IPv4 address it carries: judged by that address.
    Embedded(Embedding),
}

/// Where an IPv6 form carries its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// NAT64 (RFC 6052): the last 32 bits.
    Nat64,
    /// 6to4 (RFC 3056): bits 16..48.
    SixToFour,
    /// Teredo (RFC 4380): the server at bits 32..64 and the client's address in the last 32
    /// bits, inverted. Both are judged: either may be where the packets go.
    Teredo,
}

#[derive(Debug)]
pub struct SpecialRange {
    pub cidr: Cidr,
    pub name: &'static str,
    /// The RFC (or registry) that sets the range aside.
    pub source: &'static str,
    pub reach: Reach,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Cidr {
    Cidr::V4(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(s: [u16; 8], len: u8) -> Cidr {
    Cidr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]), len)
}

const fn range(cidr: Cidr, name: &'static str, source: &'static str, reach: Reach) -> SpecialRange {
    SpecialRange { cidr, name, source, reach }
}

use Reach::{Embedded, Global, Local};

/// Both registries, in their order, then the ranges named by other documents.
pub const SPECIAL_RANGES: &[SpecialRange] = &[
    // IANA IPv4 Special-Purpose Address Registry.
    range(v4(0, 0, 0, 0, 8), "This network", "RFC 791 §3.2", Local),
    range(v4(0, 0, 0, 0, 32), "This host on this network", "RFC 1122 §3.2.1.3", Local),
    range(v4(10, 0, 0, 0, 8), "Private-Use", "RFC 1918", Local),
    range(v4(100, 64, 0, 0, 10), "Shared Address Space", "RFC 6598", Local),
    range(v4(127, 0, 0, 0, 8), "Loopback", "RFC 1122 §3.2.1.3", Local),
    range(v4(169, 254, 0, 0, 16), "Link Local", "RFC 3927", Local),
    range(v4(172, 16, 0, 0, 12), "Private-Use", "RFC 1918", Local),
    range(v4(192, 0, 0, 0, 24), "IETF Protocol Assignments", "RFC 6890 §2.1", Local),
    range(v4(192, 0, 0, 0, 29), "IPv4 Service Continuity Prefix", "RFC 7335", Local),
    range(v4(192, 0, 0, 8, 32), "IPv4 dummy address", "RFC 7600", Local),
    range(v4(192, 0, 0, 9, 32), "Port Control Protocol Anycast", "RFC 7723", Global),
    range(v4(192, 0, 0, 10, 32), "Traversal Using Relays around NAT Anycast", "RFC 8155", Global),
    range(v4(192, 0, 0, 170, 32), "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 §2.2", Local),
    range(v4(192, 0, 0, 171, 32), "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 §2.2", Local),
    range(v4(192, 0, 2, 0, 24), "Documentation (TEST-NET-1)", "RFC 5737", Local),
    range(v4(192, 31, 196, 0, 24), "AS112-v4", "RFC 7535", Global),
    range(v4(192, 52, 193, 0, 24), "AMT", "RFC 7450", Global),
    range(v4(192, 88, 99, 0, 24), "Deprecated (6to4 Relay Anycast)", "RFC 7526", Local),
    range(v4(192, 88, 99, 2, 32), "6a44-relay anycast address", "RFC 6751", Local),
    range(v4(192, 168, 0, 0, 16), "Private-Use", "RFC 1918", Local),
    range(v4(192, 175, 48, 0, 24), "Direct Delegation AS112 Service", "RFC 7534", Global),
    range(v4(198, 18, 0, 0, 15), "Benchmarking", "RFC 2544", Local),
    range(v4(198, 51, 100, 0, 24), "Documentation (TEST-NET-2)", "RFC 5737", Local),
    range(v4(203, 0, 113, 0, 24), "Documentation (TEST-NET-3)", "RFC 5737", Local),
    range(v4(240, 0, 0, 0, 4), "Reserved", "RFC 1112 §4", Local),
    range(v4(255, 255, 255, 255, 32), "Limited Broadcast", "RFC 8190, RFC 919 §7", Local),
    // IANA IPv6 Special-Purpose Address Registry.
    range(v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "Loopback Address", "RFC 4291", Local),
    range(v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "Unspecified Address", "RFC 4291", Local),
    range(v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96), "IPv4-mapped Address", "RFC 4291", Local),
    range(v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96), "IPv4-IPv6 Translation", "RFC 6052", Embedded(Embedding::Nat64)),
    range(v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), "Local-Use IPv4/IPv6 Translation", "RFC 8215", Local),
    range(v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), "Discard-Only Address Block", "RFC 6666", Local),
    range(v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64), "Dummy IPv6 Prefix", "RFC 9780", Local),
    range(v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), "IETF Protocol Assignments", "RFC 2928", Local),
    range(v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), "TEREDO", "RFC 4380, RFC 8190", Embedded(Embedding::Teredo)),
    range(v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128), "Port Control Protocol Anycast", "RFC 7723", Global),
    range(v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128), "Traversal Using Relays around NAT Anycast", "RFC 8155", Global),
    range(v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128), "DNS-SD Service Registration Protocol Anycast", "RFC 9665", Global),
    range(v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), "Benchmarking", "RFC 5180", Local),
    range(v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32), "AMT", "RFC 7450", Global),
    range(v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48), "AS112-v6", "RFC 7535", Global),
    range(v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28), "Deprecated (previously ORCHID)", "RFC 4843", Local),
    range(v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28), "ORCHIDv2", "RFC 7343", Global),
    range(v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28), "Drone Remote ID Protocol Entity Tags", "RFC 9374", Global),
    range(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), "Documentation", "RFC 3849", Local),
    range(v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), "6to4", "RFC 3056", Embedded(Embedding::SixToFour)),
    range(v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48), "Direct Delegation AS112 Service", "RFC 7534", Global),
    range(v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), "Documentation", "RFC 9637", Local),
    range(v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), "Segment Routing (SRv6) SIDs", "RFC 9602", Local),
    range(v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), "Unique-Local", "RFC 4193, RFC 8190", Local),
    range(v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "Link-Local Unicast", "RFC 4291", Local),
    // Not in the special-purpose registries, and no unicast destination on the Internet.
    range(v4(224, 0, 0, 0, 4), "Multicast", "RFC 5771", Local),
    range(v6([0, 0, 0, 0, 0, 0, 0, 0], 0), "Reserved by IETF (outside global unicast)", "RFC 4291 §2.4", Local),
    range(v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3), "Global Unicast", "RFC 4291 §2.4", Global),
    range(v6([0, 0, 0, 0, 0, 0, 0, 0], 96), "IPv4-compatible Address (deprecated)", "RFC 4291 §2.5.5.1", Local),
    range(v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), "Site-Local (deprecated)", "RFC 3879", Local),
    range(v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "Multicast", "RFC 4291 §2.7", Local),
];

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip) {
            (Cidr::V4(net, len), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                u32::from(ip) & mask == u32::from(net) & mask
            }
            (Cidr::V6(net, len), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                u128::from(ip) & mask == u128::from(net) & mask
            }
            _ => false,
        }
    }

    pub fn prefix_len(&self) -> u8 {
        match *self {
            Cidr::V4(_, len) | Cidr::V6(_, len) => len,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cidr::V4(net, len) => write!(f, "{net}/{len}"),
            Cidr::V6(net, len) => write!(f, "{net}/{len}"),
        }
    }
}

impl fmt::Display for SpecialRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.cidr, self.name, self.source)
    }
}

/// The most specific special-purpose range that holds `ip`, if any.
pub fn special_range(ip: IpAddr) -> Option<&'static SpecialRange> {
    SPECIAL_RANGES.iter().filter(|r| r.cidr.contains(ip)).max_by_key(|r| r.cidr.prefix_len())
}

/// Why an address is not a place a webhook may point to.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub range: &'static SpecialRange,
    /// For the forms that carry an IPv4 address: that address and the range that refuses it.
    pub embedded: Option<(Ipv4Addr, &'static SpecialRange)>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.embedded {
            None => write!(f, "{}, which is not globally reachable", self.range),
            Some((v4, inner)) => {
                write!(
                    f,
                    "{}, whose embedded IPv4 address {v4} is in {inner}, which is not globally reachable",
                    self.range
                )
            }
        }
    }
}

/// Judges `ip` against the registries: `Ok` when it is globally reachable.
pub fn judge(ip: IpAddr) -> Result<(), Refusal> {
    let Some(range) = special_range(ip) else {
        return Ok(());
    };
    match range.reach {
        Reach::Global => Ok(()),
        Reach::Local => Err(Refusal { range, embedded: None }),
        Reach::Embedded(how) => {
            let IpAddr::V6(v6) = ip else {
                return Err(Refusal { range, embedded: None });
            };
            for v4 in embedded_v4(v6, how).into_iter().flatten() {
                // An embedded address is IPv4, so this does not recurse further.
                if let Err(inner) = judge(IpAddr::V4(v4)) {
                    return Err(Refusal { range, embedded: Some((v4, inner.range)) });
                }
            }
            Ok(())
        }
    }
}

/// The IPv4 addresses an IPv6 form carries (Teredo: server, then client).
fn embedded_v4(ip: Ipv6Addr, how: Embedding) -> [Option<Ipv4Addr>; 2] {
    let bits = u128::from(ip);
    // Every shift leaves at most 32 bits, so the casts keep the whole value.
    let at = |shift: u32| Ipv4Addr::from((bits >> shift) as u32);
    match how {
        Embedding::Nat64 => [Some(at(0)), None],
        Embedding::SixToFour => [Some(at(80)), None],
        Embedding::Teredo => [Some(at(64)), Some(Ipv4Addr::from(!((bits & 0xffff_ffff) as u32)))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: bool = true;
    const NO: bool = false;

    /// One row per range (more where an embedded address decides): an address inside it and
    /// one just outside it, each with the verdict written by hand from the registries.
    /// `(range, inside, allowed, outside, allowed)`.
    const ROWS: &[(&str, &str, bool, &str, bool)] = &[
        ("0.0.0.0/8", "0.255.255.255", NO, "1.0.0.0", OK),
        ("0.0.0.0/32", "0.0.0.0", NO, "0.0.0.1", NO),
        ("10.0.0.0/8", "10.255.255.255", NO, "11.0.0.0", OK),
        ("10.0.0.0/8", "10.0.0.0", NO, "9.255.255.255", OK),
        ("100.64.0.0/10", "100.127.255.255", NO, "100.128.0.0", OK),
        ("100.64.0.0/10", "100.64.0.0", NO, "100.63.255.255", OK),
        ("127.0.0.0/8", "127.0.0.1", NO, "128.0.0.0", OK),
        ("169.254.0.0/16", "169.254.169.254", NO, "169.255.0.0", OK),
        ("172.16.0.0/12", "172.31.255.255", NO, "172.32.0.0", OK),
        ("192.0.0.0/24", "192.0.0.255", NO, "192.0.1.0", OK),
        ("192.0.0.0/29", "192.0.0.7", NO, "192.0.0.8", NO),
        ("192.0.0.8/32", "192.0.0.8", NO, "192.0.0.7", NO),
        ("192.0.0.9/32", "192.0.0.9", OK, "192.0.0.8", NO),
        ("192.0.0.10/32", "192.0.0.10", OK, "192.0.0.11", NO),
        ("192.0.0.170/32", "192.0.0.170", NO, "192.0.0.169", NO),
        ("192.0.0.171/32", "192.0.0.171", NO, "192.0.0.172", NO),
        ("192.0.2.0/24", "192.0.2.1", NO, "192.0.3.0", OK),
        ("192.31.196.0/24", "192.31.196.1", OK, "192.31.197.0", OK),
        ("192.52.193.0/24", "192.52.193.1", OK, "192.52.194.0", OK),
        ("192.88.99.0/24", "192.88.99.1", NO, "192.88.100.0", OK),
        ("192.88.99.2/32", "192.88.99.2", NO, "192.88.99.3", NO),
        ("192.168.0.0/16", "192.168.255.255", NO, "192.169.0.0", OK),
        ("192.175.48.0/24", "192.175.48.1", OK, "192.175.49.0", OK),
        ("198.18.0.0/15", "198.19.255.255", NO, "198.20.0.0", OK),
        ("198.18.0.0/15", "198.18.0.0", NO, "198.17.255.255", OK),
        ("198.51.100.0/24", "198.51.100.255", NO, "198.51.101.0", OK),
        ("203.0.113.0/24", "203.0.113.7", NO, "203.0.114.0", OK),
        ("240.0.0.0/4", "255.255.255.254", NO, "239.255.255.255", NO),
        ("255.255.255.255/32", "255.255.255.255", NO, "255.255.255.254", NO),
        ("224.0.0.0/4", "224.0.0.1", NO, "223.255.255.255", OK),
        ("::1/128", "::1", NO, "::2", NO),
        ("::/128", "::", NO, "::1", NO),
        ("::ffff:0.0.0.0/96", "::ffff:8.8.8.8", NO, "::1:0:0:0", NO),
        ("::ffff:0.0.0.0/96", "::ffff:127.0.0.1", NO, "::fffe:ffff:ffff", NO),
        ("64:ff9b::/96", "64:ff9b::808:808", OK, "64:ff9b::1:0:0", NO),
        ("64:ff9b::/96", "64:ff9b::7f00:1", NO, "64:ff9b::1:0:0", NO),
        ("64:ff9b::/96", "64:ff9b::a9fe:a9fe", NO, "64:ff9b::1:0:0", NO),
        ("64:ff9b:1::/48", "64:ff9b:1:ffff::1", NO, "64:ff9b:2::", NO),
        ("100::/64", "100::1", NO, "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NO),
        ("100:0:0:1::/64", "100:0:0:1::1", NO, "100:0:0:2::", NO),
        ("2001::/23", "2001:1ff:ffff::", NO, "2001:200::", OK),
        // Teredo: server 65.54.227.120, client 8.8.8.8 (stored inverted as f7f7:f7f7).
        ("2001::/32", "2001:0:4136:e378:8000:63bf:f7f7:f7f7", OK, "2001:1::", NO),
        // The client 127.0.0.1 (inverted 80ff:fffe), and the server 10.0.0.1.
        ("2001::/32", "2001:0:4136:e378:8000:63bf:80ff:fffe", NO, "2001:1::", NO),
        ("2001::/32", "2001:0:a00:1::f7f7:f7f7", NO, "2001:1::", NO),
        ("2001:1::1/128", "2001:1::1", OK, "2001:1::", NO),
        ("2001:1::2/128", "2001:1::2", OK, "2001:1::4", NO),
        ("2001:1::3/128", "2001:1::3", OK, "2001:1::4", NO),
        ("2001:2::/48", "2001:2:0:ffff::1", NO, "2001:2:1::", NO),
        ("2001:3::/32", "2001:3::1", OK, "2001:4::", NO),
        ("2001:4:112::/48", "2001:4:112::1", OK, "2001:4:113::", NO),
        ("2001:10::/28", "2001:1f::1", NO, "2001:20::", OK),
        ("2001:20::/28", "2001:2f::1", OK, "2001:1f:ffff::", NO),
        ("2001:30::/28", "2001:3f::1", OK, "2001:40::", NO),
        ("2001:db8::/32", "2001:db8::1", NO, "2001:db9::", OK),
        // 6to4: the IPv4 address at bits 16..48 decides.
        ("2002::/16", "2002:7f00:1::1", NO, "2003::", OK),
        ("2002::/16", "2002:a9fe:a9fe::1", NO, "2001:ffff::", OK),
        ("2002::/16", "2002:c058:6301::", NO, "2003::", OK),
        ("2002::/16", "2002:808:808::1", OK, "2003::", OK),
        ("2620:4f:8000::/48", "2620:4f:8000::1", OK, "2620:4f:8001::", OK),
        ("3fff::/20", "3fff:fff::1", NO, "3fff:1000::", OK),
        ("5f00::/16", "5f00::1", NO, "5f01::", NO),
        ("fc00::/7", "fd00:ec2::254", NO, "fe00::", NO),
        ("fe80::/10", "fe80::1", NO, "fec0::", NO),
        ("::/0", "4000::1", NO, "2000::1", OK),
        ("2000::/3", "3fff:ffff::1", OK, "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NO),
        ("2000::/3", "2000::", OK, "4000::", NO),
        ("::/96", "::808:808", NO, "::1:0:0", NO),
        ("fec0::/10", "fec0::1", NO, "ff00::", NO),
        ("ff00::/8", "ff02::1", NO, "feff:ffff::", NO),
    ];

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s} is an address"))
    }

    fn matched(s: &str) -> Option<String> {
        special_range(ip(s)).map(|r| r.cidr.to_string())
    }

    #[test]
    fn each_range_holds_its_inside_and_not_its_outside() {
        for &(cidr, inside, inside_ok, outside, outside_ok) in ROWS {
            // GIVEN an address inside the range and one just outside it
            // THEN the range is the most specific one for the inside address only
            assert_eq!(matched(inside).as_deref(), Some(cidr), "{inside} is decided by {cidr}");
            assert_ne!(matched(outside).as_deref(), Some(cidr), "{outside} is outside {cidr}");
            // AND each gets the verdict the registries give it
            assert_eq!(judge(ip(inside)).is_ok(), inside_ok, "{inside} in {cidr}");
            assert_eq!(judge(ip(outside)).is_ok(), outside_ok, "{outside} next to {cidr}");
        }
    }

    #[test]
    fn every_range_of_the_table_is_tested_and_well_formed() {
        for r in SPECIAL_RANGES {
            let cidr = r.cidr.to_string();
            assert!(ROWS.iter().any(|row| row.0 == cidr), "{cidr} has a row in ROWS");
            // The network address has no host bits, or the entry says something else than meant.
            let (net, len) = match r.cidr {
                Cidr::V4(net, len) => (IpAddr::V4(net), len),
                Cidr::V6(net, len) => (IpAddr::V6(net), len),
            };
            let bits = match net {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            };
            assert_eq!(bits.checked_shl(u32::from(len)).unwrap_or(0), 0, "{cidr} has host bits");
            assert_eq!(SPECIAL_RANGES.iter().filter(|o| o.cidr == r.cidr).count(), 1, "{cidr} is listed once");
        }
    }

    #[test]
    fn ordinary_public_addresses_pass() {
        for a in ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001::200e"] {
            assert!(judge(ip(a)).is_ok(), "{a}");
        }
    }

    #[test]
    fn a_refusal_names_the_range_and_the_embedded_address() {
        let refusal = judge(ip("2002:7f00:1::1")).expect_err("6to4 of loopback");
        let text = refusal.to_string();
        assert!(text.contains("2002::/16 (6to4, RFC 3056)"), "{text}");
        assert!(text.contains("127.0.0.1 is in 127.0.0.0/8 (Loopback"), "{text}");
        let text = judge(ip("10.1.2.3")).expect_err("private").to_string();
        assert_eq!(text, "10.0.0.0/8 (Private-Use, RFC 1918), which is not globally reachable");
    }
}
