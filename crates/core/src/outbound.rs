//! Where the gateway may send HTTP on someone's behalf (webhooks, `callback_url`): a tenant
//! that can name a URL must not be able to make the gateway reach what only the gateway can
//! reach (SSRF): a cloud metadata service, the admin interface of a router, the database.
//!
//! Three classes of address:
//! - **never**: link-local (`169.254.0.0/16`, where cloud metadata services live, and
//!   `fe80::/10`), unspecified, multicast, broadcast: refused for everybody;
//! - **internal**: loopback, private ranges (RFC 1918, CGNAT `100.64.0.0/10`, IPv6 ULA):
//!   refused for a tenant unless a network in its `allow_networks` or `[webhooks]
//!   allow_networks` covers the address; allowed for admin subscriptions;
//! - everything else: allowed.
//!
//! The check runs on the address actually connected to (the resolver below filters what DNS
//! answers, so a name that resolves to an internal address at delivery time, DNS rebinding,
//! is refused too), and redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address (a host network).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("'{s}' is not a network: write it as 10.0.0.0/8 or ::1/128"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether the network holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A URL as logs and status views may show it: credentials (`user:pass@`) masked and the
/// query (which may carry a password, as Kannel's does) cut.
pub fn redact_url(url: &str) -> String {
    let url = url.split('?').next().unwrap_or(url);
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Parses a list of networks (config or API input); the error names the bad entry.
pub fn parse_networks<S: AsRef<str>>(list: &[S]) -> Result<Vec<Cidr>, String> {
    list.iter().map(|s| Cidr::parse(s.as_ref())).collect()
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn never_v4(a: Ipv4Addr) -> bool {
    a.is_link_local() || a.is_unspecified() || a.is_multicast() || a.is_broadcast()
}

fn internal_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback() || a.is_private() || o[0] == 0 || (o[0] == 100 && (o[1] & 0xc0) == 64)
}

fn never_v6(a: Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80 || a.is_unspecified() || a.is_multicast()
}

fn internal_v6(a: Ipv6Addr) -> bool {
    a.is_loopback() || (a.segments()[0] & 0xfe00) == 0xfc00
}

/// Who a delivery is made for: what it may reach beyond the public internet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reach {
    /// An admin's subscription (or an admin key's callback): internal addresses allowed.
    pub trusted: bool,
    /// Internal networks allowed anyway (the tenant's and `[webhooks] allow_networks`).
    pub allow: Vec<Cidr>,
}

impl Reach {
    /// Whether a connection to `ip` is allowed; the error says why not and what to change.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        let ip = canonical(ip);
        let (never, internal) = match ip {
            IpAddr::V4(a) => (never_v4(a), internal_v4(a)),
            IpAddr::V6(a) => (never_v6(a), internal_v6(a)),
        };
        if never {
            return Err(format!(
                "{ip} is a link-local, multicast or unspecified address; webhooks may never \
                 reach it"
            ));
        }
        if internal && !self.trusted && !self.allow.iter().any(|n| n.contains(ip)) {
            return Err(format!(
                "{ip} is a loopback or private address; list its network in the tenant's \
                 allow_networks or in [webhooks] allow_networks to reach it"
            ));
        }
        Ok(())
    }

    /// Checks what can be known from the URL alone: an IP literal host, or `localhost`. A
    /// host name is checked again on every connection.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let u = reqwest::Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
        let host = u.host_str().ok_or_else(|| format!("'{url}' has no host"))?;
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            return self.check(ip);
        }
        let d = host.trim_end_matches('.').to_ascii_lowercase();
        if d == "localhost" || d.ends_with(".localhost") {
            self.check(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else {
            Ok(())
        }
    }
}

/// A DNS resolver for reqwest that drops every address [`Reach::check`] refuses: a name is
/// only connected to at addresses that pass, whatever DNS said when the webhook was created.
pub struct CheckedResolver {
    reach: Reach,
}

impl CheckedResolver {
    /// A resolver applying `reach`.
    pub fn new(reach: Reach) -> Arc<Self> {
        Arc::new(Self { reach })
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.reach.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let ok: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match reach.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused = Some(e);
                        false
                    }
                })
                .collect();
            if ok.is_empty() {
                let why = refused.unwrap_or_else(|| format!("{host} has no address"));
                tracing::warn!(host, reason = %why, "webhook connection refused by the outbound policy");
                return Err(why.into());
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client for deliveries under `reach`: its resolver filters addresses and it follows
/// no redirect (a 3xx is an answer like any other non-2xx).
pub fn client(reach: Reach, timeout: std::time::Duration, per_host: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .tcp_nodelay(true)
        .pool_max_idle_per_host(per_host)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(CheckedResolver::new(reach))
        .user_agent(concat!("smsgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn link_local_and_metadata_addresses_are_refused_even_for_admins() {
        let admin = Reach {
            trusted: true,
            allow: vec![],
        };
        for a in [
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(admin.check(ip(a)).is_err(), "{a}");
        }
        assert!(admin.check(ip("127.0.0.1")).is_ok());
    }

    #[test]
    fn internal_addresses_need_an_allowed_network_for_tenants() {
        let tenant = Reach::default();
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            let e = tenant.check(ip(a)).unwrap_err();
            assert!(e.contains("allow_networks"), "{a}: {e}");
        }
        assert!(tenant.check(ip("93.184.216.34")).is_ok());
        let allowed = Reach {
            trusted: false,
            allow: parse_networks(&["10.0.0.0/8", "127.0.0.1"]).unwrap(),
        };
        assert!(allowed.check(ip("10.200.0.1")).is_ok());
        assert!(allowed.check(ip("127.0.0.1")).is_ok());
        assert!(allowed.check(ip("127.0.0.2")).is_err());
        assert!(allowed.check(ip("192.168.0.1")).is_err());
    }

    #[test]
    fn urls_with_literal_or_localhost_hosts_are_checked_up_front() {
        let tenant = Reach::default();
        assert!(
            tenant
                .check_url("http://169.254.169.254/latest/meta-data")
                .is_err()
        );
        assert!(tenant.check_url("http://[::1]:8080/x").is_err());
        assert!(tenant.check_url("http://localhost:9000/").is_err());
        assert!(tenant.check_url("https://hooks.example.com/x").is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_addresses_the_reach_refuses() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let name = || reqwest::dns::Name::from_str("localhost").unwrap();
        let tenant = CheckedResolver::new(Reach::default());
        let err = match tenant.resolve(name()).await {
            Ok(_) => panic!("a tenant resolved localhost"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("allow_networks"), "{err}");
        let admin = CheckedResolver::new(Reach {
            trusted: true,
            allow: vec![],
        });
        let addrs: Vec<_> = admin.resolve(name()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }

    #[test]
    fn networks_parse_with_clear_errors() {
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("0 to 32"));
        assert!(Cidr::parse("ten/8").unwrap_err().contains("10.0.0.0/8"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }
}
