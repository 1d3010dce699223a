//! The SSRF guard: Courier must not become a proxy into the network it runs in. A target's
//! host is resolved, every address that is not globally routable is dropped, and the
//! connection goes to an address that was checked (the resolver hands awc only vetted
//! addresses, so there is no second lookup to race). IP literals never reach a resolver in
//! awc, so `check_literal` is called on them before sending. Redirects are never followed.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use actix_tls::connect::Resolve;
use futures_util::future::LocalBoxFuture;

/// The error a blocked lookup yields; the delivery actor downcasts to it to record
/// `blocked_target` rather than `dns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedTarget(pub String);

impl fmt::Display for BlockedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target refused by the SSRF guard: {}", self.0)
    }
}

impl StdError for BlockedTarget {}

/// Whether an address is off limits (loopback, private, link-local, metadata, CGNAT,
/// multicast, documentation, reserved, or a v6 form that embeds one of those).
pub fn is_forbidden(ip: IpAddr) -> bool {
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
        || ip.is_link_local() // includes 169.254.169.254, the cloud metadata address
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..=127).contains(&b)) // CGNAT, includes 100.100.100.200 (metadata)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    let seg = ip.segments();
    // NAT64 (64:ff9b::/96) embeds an IPv4 address in the last 32 bits.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        let [.., hi, lo] = seg;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return is_forbidden_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local, includes fd00:ec2::254 (metadata)
        || (seg[0] & 0xffc0) == 0xfe80 // link-local
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || seg[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
}

/// Refuses a forbidden IP literal unless private targets are allowed.
pub fn check_literal(ip: IpAddr, allow_private: bool) -> Result<(), BlockedTarget> {
    if !allow_private && is_forbidden(ip) {
        return Err(BlockedTarget(format!("{ip} is not a public address")));
    }
    Ok(())
}

/// Keeps the addresses that may be connected to; errors if none is left.
pub fn vet_addresses(
    host: &str,
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, BlockedTarget> {
    if allow_private {
        return Ok(addrs);
    }
    let total = addrs.len();
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| !is_forbidden(a.ip()))
        .collect();
    if allowed.is_empty() && total > 0 {
        return Err(BlockedTarget(format!(
            "{host} resolves only to non-public addresses"
        )));
    }
    Ok(allowed)
}

/// An awc resolver that applies [`vet_addresses`] to every lookup.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn StdError>>> {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            vet_addresses(host, addrs, self.allow_private)
                .map_err(|e| Box::new(e) as Box<dyn StdError>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid ip")
    }

    #[test]
    fn loopback_private_link_local_and_metadata_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "224.0.0.1",
            "255.255.255.255",
            "::127.0.0.1",
        ] {
            assert!(is_forbidden(ip(bad)), "{bad} should be forbidden");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for good in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_forbidden(ip(good)), "{good} should be allowed");
        }
    }

    #[test]
    fn vetting_drops_forbidden_addresses_and_refuses_when_none_is_left() {
        let mixed = vec![
            SocketAddr::new(ip("10.0.0.1"), 80),
            SocketAddr::new(ip("1.1.1.1"), 80),
        ];
        assert_eq!(vet_addresses("h", mixed, false).map(|v| v.len()), Ok(1));
        let private = vec![SocketAddr::new(ip("127.0.0.1"), 80)];
        assert!(vet_addresses("h", private.clone(), false).is_err());
        assert_eq!(vet_addresses("h", private, true).map(|v| v.len()), Ok(1));
    }

    #[actix_rt::test]
    async fn resolver_refuses_localhost() {
        let r = GuardedResolver {
            allow_private: false,
        };
        let err = r
            .lookup("localhost", 80)
            .await
            .expect_err("localhost must be refused");
        assert!(err.downcast_ref::<BlockedTarget>().is_some());
    }
}
