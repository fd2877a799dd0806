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
    #[error("{host} resolves to {address}, a loopback or private address; webhook targets must be public (an operator may allow private targets with SIGMA_WEBHOOK_ALLOW_PRIVATE=1)")]
    Private { host: String, address: IpAddr },
    #[error("cannot resolve {host}: {reason}")]
    Unresolvable { host: String, reason: String },
}

/// Whether an address is on the public internet.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
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
        // 198.18.0.0/15: benchmarking networks.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let first = address.segments()[0];
    !(address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80)
}

/// Checks a target before a subscription is created: the host (a literal address, or every
/// address its name resolves to) must be public unless `allow_private`.
pub async fn validate(url: &str, allow_private: bool) -> Result<(), TargetError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| TargetError::NotHttp)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::NotHttp);
    }
    let host = parsed.host_str().ok_or(TargetError::NotHttp)?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = match literal.parse::<IpAddr>() {
        Ok(address) => vec![address],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|error| TargetError::Unresolvable {
                host: host.clone(),
                reason: error.to_string(),
            })?
            .map(|socket| socket.ip())
            .collect(),
    };
    if allow_private {
        return Ok(());
    }
    match addresses.into_iter().find(|address| !is_public(*address)) {
        Some(address) => Err(TargetError::Private { host, address }),
        None => Ok(()),
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
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|socket| allow_private || is_public(socket.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(TargetError::Private {
                    host,
                    address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
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
        ] {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
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
}
