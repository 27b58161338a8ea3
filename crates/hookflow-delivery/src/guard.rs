//! The private-address guard (SPEC section 8): which IP addresses an outbound
//! connection may reach.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;

/// The operator's setting that unlocks refused networks, named in every refusal.
pub const ALLOW_SETTING: &str = "HOOKFLOW_ALLOW_NETWORKS";

/// Decides which addresses outbound connections may reach: every address
/// except the special ones ([`Category`]), unless the operator allowed the
/// network it is in. Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    allowed: Arc<[IpNet]>,
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `0.0.0.0/8` ("this network").
    ThisNetwork,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, and the deprecated
    /// IPv6 site-local `fec0::/10`, and the local-use NAT64 prefix `64:ff9b:1::/48`, whose
    /// translator may map an address to any IPv4 network it is configured with.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT.
    SharedAddressSpace,
    /// `169.254.0.0/16` (cloud metadata services live here), `fe80::/10`.
    LinkLocal,
    /// `fc00::/7`.
    UniqueLocal,
    /// `255.255.255.255`.
    Broadcast,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// `240.0.0.0/4`, `192.0.0.0/24` (protocol assignments), `100::/64` (discard only).
    Reserved,
}

impl Category {
    /// The category of `ip`, or `None` for an ordinary (public) address.
    /// IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
    /// IPv4-translated (SIIT) `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64
    /// `64:ff9b::/96` and 6to4 `2002::/16`) take the category of the IPv4 address inside.
    pub fn of(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => Self::of_v6(v6),
        }
    }

    fn of_v4(ip: Ipv4Addr) -> Option<Self> {
        let [a, b, c, _] = ip.octets();
        Some(match (a, b, c) {
            _ if ip.is_unspecified() => Self::Unspecified,
            _ if ip.is_broadcast() => Self::Broadcast,
            (0, _, _) => Self::ThisNetwork,
            (127, _, _) => Self::Loopback,
            (10, _, _) | (192, 168, _) => Self::Private,
            (172, 16..=31, _) => Self::Private,
            (100, 64..=127, _) => Self::SharedAddressSpace,
            (169, 254, _) => Self::LinkLocal,
            (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Self::Documentation,
            (198, 18..=19, _) => Self::Benchmarking,
            (192, 0, 0) => Self::Reserved,
            (224..=239, _, _) => Self::Multicast,
            (240..=255, _, _) => Self::Reserved,
            _ => return None,
        })
    }

    fn of_v6(ip: Ipv6Addr) -> Option<Self> {
        if ip.is_unspecified() {
            return Some(Self::Unspecified);
        }
        if ip.is_loopback() {
            return Some(Self::Loopback);
        }
        if let Some(v4) = embedded_v4(ip) {
            return Self::of_v4(v4);
        }
        let s = ip.segments();
        if s[..3] == [0x64, 0xff9b, 1] {
            return Some(Self::Private);
        }
        Some(match s[0] {
            0xff00..=0xffff => Self::Multicast,
            0xfe80..=0xfebf => Self::LinkLocal,
            0xfec0..=0xfeff => Self::Private,
            0xfc00..=0xfdff => Self::UniqueLocal,
            0x2001 if s[1] == 0x0db8 => Self::Documentation,
            0x3fff if s[1] < 0x1000 => Self::Documentation,
            0x2001 if s[1] == 0x0002 && s[2] == 0 => Self::Benchmarking,
            0x0100 if s[1..4] == [0, 0, 0] => Self::Reserved,
            _ => return None,
        })
    }

    /// "a loopback address", ...
    fn phrase(self) -> &'static str {
        match self {
            Self::Unspecified => "an unspecified address",
            Self::ThisNetwork => "a \"this network\" address (0.0.0.0/8)",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::SharedAddressSpace => "a shared (carrier-grade NAT) address",
            Self::LinkLocal => "a link-local address",
            Self::UniqueLocal => "a unique-local address",
            Self::Broadcast => "a broadcast address",
            Self::Multicast => "a multicast address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::Reserved => "a reserved address",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.phrase())
    }
}

/// The IPv4 address an IPv6 address stands for, if it is one of the forms
/// that carry one: IPv4-mapped, IPv4-translated (SIIT), IPv4-compatible, NAT64
/// (well-known prefix) or 6to4. The local-use NAT64 prefix `64:ff9b:1::/48` is
/// not among them: where its translator puts the IPv4 address depends on the
/// prefix length it was configured with, so the whole prefix is refused instead.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match s {
        // IPv4-translated (SIIT, RFC 2765): ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last),
        // IPv4-compatible (deprecated): ::a.b.c.d (:: and ::1 are handled before).
        [0, 0, 0, 0, 0, 0, _, _] => Some(last),
        // NAT64 well-known prefix: 64:ff9b::a.b.c.d.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        // 6to4: 2002:aabb:ccdd::/48.
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

/// An address the guard refused. Its Display is the sentence to store on the
/// attempt: "refused to connect to 10.0.0.1: a private address (allow it with
/// HOOKFLOW_ALLOW_NETWORKS)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The address refused.
    pub ip: IpAddr,
    /// Why.
    pub category: Category,
    /// The host name that resolved to `ip`, when there was one.
    pub host: Option<String>,
}

impl Refused {
    /// The same refusal, naming the host that resolved to the address.
    pub fn with_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_owned());
        self
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(host) => write!(f, "refused to connect to {host} ({})", self.ip)?,
            None => write!(f, "refused to connect to {}", self.ip)?,
        }
        write!(f, ": {} (allow it with {ALLOW_SETTING})", self.category)
    }
}

impl std::error::Error for Refused {}

impl Guard {
    /// A guard that lets the `allowed` networks through despite their category.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        let allowed: Vec<IpNet> = allowed.into_iter().map(|net| net.trunc()).collect();
        Self {
            allowed: allowed.into(),
        }
    }

    /// Parses a comma-separated list of networks, as in `HOOKFLOW_ALLOW_NETWORKS`:
    /// `"127.0.0.1/32, 10.0.0.0/8, ::1"`. A bare address means that address
    /// alone (`/32` or `/128`); an empty list allows nothing. The error names
    /// the entry that is not a network.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "`{entry}` is not an IP network: write networks like `10.0.0.0/8` or single addresses \
                             like `127.0.0.1`, separated by commas"
                        ))
                    }
                },
            };
            allowed.push(net);
        }
        Ok(Self::new(allowed))
    }

    /// The networks let through, as given (host bits cleared).
    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// `Ok` when a connection to `ip` may be made: `ip` is an ordinary
    /// address, or is in an allowed network. An IPv6 form carrying an IPv4
    /// address (`::ffff:127.0.0.1`) is allowed when either form is.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let Some(category) = Category::of(ip) else {
            return Ok(());
        };
        let v4 = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let allowed = |ip: IpAddr| self.allowed.iter().any(|net| net.contains(&ip));
        if allowed(ip) || v4.is_some_and(allowed) {
            return Ok(());
        }
        Err(Refused {
            ip,
            category,
            host: None,
        })
    }
}
