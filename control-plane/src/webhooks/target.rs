//! Where a webhook may be sent: http(s) targets on public addresses only — loopback, private,
//! link-local, shared (CGNAT), multicast and unspecified ranges are refused, so a subscription
//! cannot make the platform probe its own network — unless the operator allows private targets
//! (`SIGMA_WEBHOOK_ALLOW_PRIVATE=1`, for labs and tests).
//!
//! The check runs twice: when a subscription is created (a clear error for the caller) and at
//! every connection, through [`GuardedResolver`], so a host name that later resolves to a
//! private address (DNS rebinding) is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("the url is not an absolute http:// or https:// URL")]
    NotHttp,
    /// Which address a name resolves to goes to the server's log only: which internal names
    /// resolve where is not the caller's to learn.
    #[error("{host} is not a public address; webhook targets must be public (an operator may allow private targets with SIGMA_WEBHOOK_ALLOW_PRIVATE=1)")]
    Private { host: String },
    #[error("cannot resolve {host}")]
    Unresolvable { host: String },
}

/// Whether an address is on the public internet. Addresses that embed an IPv4 address
/// (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by that address.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 one carries: `::ffff:a.b.c.d` (mapped), `::a.b.c.d` (compatible,
/// deprecated), `64:ff9b::a.b.c.d` (NAT64, RFC 6052) and `2002:aabb:ccdd::/48` (6to4).
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = address.segments();
    let octets = address.octets();
    let last_four = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last_four),
        // `::` and `::1` are judged as IPv6 (unspecified, loopback).
        [0, 0, 0, 0, 0, 0, high, _] if high != 0 => Some(last_four),
        [0x2002, ..] => Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])),
        _ => None,
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_documentation()
        || a == 0
        // 100.64.0.0/10: carrier-grade NAT, private in practice.
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24: IETF protocol assignments; 192.88.99.0/24: 6to4 relays.
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        // 198.18.0.0/15: benchmarking networks.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let [first, second, ..] = address.segments();
    !(address.is_multicast()
        // ::/96 (unspecified, loopback, IPv4-compatible with a zero first half).
        || address.segments()[..6] == [0; 6]
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local (deprecated).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // 64:ff9b:1::/48: local-use NAT64.
        || (first == 0x64 && second == 0xff9b)
        // 100::/64 discard; 2001::/23 IETF protocol assignments (Teredo among them);
        // 2001:db8::/32 documentation.
        || (first == 0x100 && address.segments()[1..4] == [0, 0, 0])
        || (first == 0x2001 && second < 0x200)
        || (first == 0x2001 && second == 0xdb8))
}

/// A target's address when its host is a literal one: no name is resolved to reach it, so
/// the resolver's check never sees it.
fn literal_address(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Checks a target before a subscription is created: the host (a literal address, or every
/// address its name resolves to) must be public unless `allow_private`. `url` is in its
/// normal form ([`sigma_shared::webhook::normalize_url`]).
pub async fn validate(url: &str, allow_private: bool) -> Result<(), TargetError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| TargetError::NotHttp)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::NotHttp);
    }
    let host = parsed.host_str().ok_or(TargetError::NotHttp)?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match literal_address(&parsed) {
        Some(address) => vec![address],
        None => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|error| {
                tracing::info!(%host, %error, "a webhook target does not resolve");
                TargetError::Unresolvable { host: host.clone() }
            })?
            .map(|socket| socket.ip())
            .collect(),
    };
    if allow_private {
        return Ok(());
    }
    match addresses.into_iter().find(|address| !is_public(*address)) {
        Some(address) => {
            tracing::info!(%host, %address, "a webhook target is not public");
            Err(TargetError::Private { host })
        }
        None => Ok(()),
    }
}

/// Checks a target at delivery, before connecting: a literal address must be public (unless
/// `allow_private`); a name is checked by [`GuardedResolver`] as it is resolved. A stored
/// target was checked at creation, but the operator's setting may have changed since.
pub fn check_before_connecting(url: &str, allow_private: bool) -> Result<(), TargetError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| TargetError::NotHttp)?;
    match literal_address(&parsed) {
        Some(address) if !allow_private && !is_public(address) => Err(TargetError::Private {
            host: parsed.host_str().unwrap_or_default().to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The delivery client's resolver: the system's, minus private addresses (unless allowed).
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let refused = |error: TargetError| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(error)
            };
            let Ok(resolved) = tokio::net::lookup_host((host.as_str(), 0)).await else {
                return Err(refused(TargetError::Unresolvable { host }));
            };
            let found: Vec<SocketAddr> = resolved
                .filter(|socket| allow_private || is_public(socket.ip()))
                .collect();
            if found.is_empty() {
                return Err(refused(TargetError::Private { host }));
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_ranges_are_not_public() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "fec0::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "192.0.0.8",
            "192.88.99.1",
            "198.18.0.1",
        ] {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2a00:1450::1",
        ] {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

    #[tokio::test]
    async fn loopback_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/hooks",
            "http://[::1]/hooks",
            "http://localhost/hooks",
            "https://10.0.0.5/",
        ] {
            assert!(
                matches!(validate(url, false).await, Err(TargetError::Private { .. })),
                "{url}"
            );
            assert_eq!(validate(url, true).await, Ok(()), "{url}");
        }
        assert_eq!(
            validate("ftp://example.com/", true).await,
            Err(TargetError::NotHttp)
        );
    }

    #[test]
    fn literal_targets_are_checked_before_connecting() {
        for url in [
            "http://127.0.0.1:9000/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://169.254.169.254/latest",
        ] {
            assert!(
                matches!(
                    check_before_connecting(url, false),
                    Err(TargetError::Private { .. })
                ),
                "{url}"
            );
            assert_eq!(check_before_connecting(url, true), Ok(()));
        }
        // Names are the resolver's to check.
        assert_eq!(check_before_connecting("http://localhost/", false), Ok(()));
        assert_eq!(check_before_connecting("https://8.8.8.8/", false), Ok(()));
    }
}
