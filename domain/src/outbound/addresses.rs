//! Which IP addresses are not public unicast destinations, and what they are instead.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a non-public address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Loopback,
    Private,
    LinkLocal,
    /// The cloud metadata service (169.254.169.254).
    Metadata,
    Unspecified,
    /// Carrier-grade NAT (100.64/10).
    Shared,
    Multicast,
    Broadcast,
    Documentation,
    Reserved,
}

impl AddressKind {
    /// The stable code shown to callers (`details.reason`).
    pub fn code(self) -> &'static str {
        match self {
            AddressKind::Loopback => "loopback",
            AddressKind::Private => "private",
            AddressKind::LinkLocal => "link_local",
            AddressKind::Metadata => "metadata",
            AddressKind::Unspecified => "unspecified",
            AddressKind::Shared => "shared",
            AddressKind::Multicast => "multicast",
            AddressKind::Broadcast => "broadcast",
            AddressKind::Documentation => "documentation",
            AddressKind::Reserved => "reserved",
        }
    }

    /// For people: "a loopback address", ...
    pub fn describe(self) -> &'static str {
        match self {
            AddressKind::Loopback => "a loopback address",
            AddressKind::Private => "a private address",
            AddressKind::LinkLocal => "a link-local address",
            AddressKind::Metadata => "the cloud metadata service",
            AddressKind::Unspecified => "an unspecified address",
            AddressKind::Shared => "a shared (carrier-grade NAT) address",
            AddressKind::Multicast => "a multicast address",
            AddressKind::Broadcast => "the broadcast address",
            AddressKind::Documentation => "a documentation address",
            AddressKind::Reserved => "a reserved address",
        }
    }
}

/// The kind of a non-public address, or `None` for a public unicast address. IPv6 forms that
/// carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4) are judged by it.
pub fn forbidden_address(ip: IpAddr) -> Option<AddressKind> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<AddressKind> {
    use AddressKind::*;
    // The metadata address comes before link-local, which contains it.
    const RANGES: [([u8; 4], u32, AddressKind); 17] = [
        ([169, 254, 169, 254], 32, Metadata),
        ([0, 0, 0, 0], 8, Unspecified),
        ([127, 0, 0, 0], 8, Loopback),
        ([10, 0, 0, 0], 8, Private),
        ([172, 16, 0, 0], 12, Private),
        ([192, 168, 0, 0], 16, Private),
        ([100, 64, 0, 0], 10, Shared),
        ([169, 254, 0, 0], 16, LinkLocal),
        // IETF protocol assignments.
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        // Benchmarking.
        ([198, 18, 0, 0], 15, Reserved),
        // 6to4 relay anycast.
        ([192, 88, 99, 0], 24, Reserved),
        ([255, 255, 255, 255], 32, Broadcast),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, kind)| *kind)
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// The IPv4 address in bits `at..at + 32` of `ip`.
fn embedded_v4(ip: Ipv6Addr, at: u32) -> Ipv4Addr {
    let bits = u128::from(ip) >> (96 - at);
    Ipv4Addr::from(u32::try_from(bits & u128::from(u32::MAX)).unwrap_or(0))
}

fn v6(text: &str) -> Ipv6Addr {
    text.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<AddressKind> {
    use AddressKind::*;
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    // Forms that carry an IPv4 address, judged by that address: IPv4-mapped (::ffff:0:0/96),
    // IPv4-translated (::ffff:0:0:0/96, RFC 2765), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    for (net, prefix, at) in [
        ("::ffff:0:0:0", 96, 96),
        ("64:ff9b::", 96, 96),
        ("2002::", 16, 16),
    ] {
        if in_v6(ip, v6(net), prefix) {
            return forbidden_v4(embedded_v4(ip, at));
        }
    }
    if in_v6(ip, v6("::"), 96) {
        // IPv4-compatible (deprecated): ::a.b.c.d, never a destination of its own.
        return Some(forbidden_v4(embedded_v4(ip, 96)).unwrap_or(Reserved));
    }
    const RANGES: [(&str, u32, AddressKind); 10] = [
        // Local-use NAT64.
        ("64:ff9b:1::", 48, Private),
        // The rest of ::/8 (after the forms above) is reserved by the IETF.
        ("::", 8, Reserved),
        // Discard-only.
        ("100::", 64, Reserved),
        // IETF protocol assignments (Teredo, ORCHID, ...).
        ("2001::", 23, Reserved),
        ("2001:db8::", 32, Documentation),
        ("3fff::", 20, Documentation),
        ("fc00::", 7, Private),
        ("fe80::", 10, LinkLocal),
        // Site-local (deprecated).
        ("fec0::", 10, Private),
        ("ff00::", 8, Multicast),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, v6(net), *prefix))
        .map(|(_, _, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(ip: &str) -> Option<&'static str> {
        forbidden_address(ip.parse().expect("ip")).map(AddressKind::code)
    }

    #[test]
    fn classifies_addresses() {
        for (ip, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "metadata"),
            ("169.254.1.1", "link_local"),
            ("0.0.0.0", "unspecified"),
            ("100.64.0.1", "shared"),
            ("100.127.255.254", "shared"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.200", "documentation"),
            ("198.18.0.1", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("fe80::1", "link_local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "metadata"),
            // IPv4-translated (::ffff:0:a.b.c.d).
            ("::ffff:0:127.0.0.1", "loopback"),
            ("::ffff:0:7f00:1", "loopback"),
            ("::ffff:0:a9fe:a9fe", "metadata"),
            ("::ffff:0:10.0.0.1", "private"),
            ("::127.0.0.1", "loopback"),
            ("::1:0:0:1", "reserved"),
            ("64:ff9b::10.0.0.1", "private"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "metadata"),
            ("2001:0:4136:e378::1", "reserved"),
        ] {
            assert_eq!(code(ip), Some(expected), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(code(ip), None, "{ip} is public");
        }
    }
}
