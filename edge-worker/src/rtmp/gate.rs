//! Caps on connections open at once, in the process and per remote address, checked at
//! accept before a byte is read. A [`Pass`] holds a connection's place until it is dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Why a connection was turned away at the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GateRefusal {
    #[error("{0} connections are open, the most this process takes")]
    Full(usize),
    #[error("{0} connections are open from this address, the most one address may hold")]
    AddressFull(usize),
}

impl GateRefusal {
    /// A stable label for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Full(_) => "too_many_connections",
            Self::AddressFull(_) => "too_many_connections_from_address",
        }
    }
}

#[derive(Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

#[derive(Clone)]
pub struct Gate {
    max_total: usize,
    max_per_address: usize,
    open: Arc<Mutex<Open>>,
}

/// A connection's place at the gate, given back when dropped.
pub struct Pass {
    address: IpAddr,
    open: Arc<Mutex<Open>>,
}

impl Gate {
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        Self {
            max_total,
            max_per_address,
            open: Arc::default(),
        }
    }

    pub fn enter(&self, address: IpAddr) -> Result<Pass, GateRefusal> {
        let address = network_of(address);
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if open.total >= self.max_total {
            return Err(GateRefusal::Full(self.max_total));
        }
        let from_address = open.by_address.get(&address).copied().unwrap_or(0);
        if from_address >= self.max_per_address {
            return Err(GateRefusal::AddressFull(self.max_per_address));
        }
        open.total += 1;
        open.by_address.insert(address, from_address + 1);
        Ok(Pass {
            address,
            open: self.open.clone(),
        })
    }
}

/// What counts as one remote address: an IPv4 address, or an IPv6 /64 (one host's usual
/// allocation, which it may fill with addresses at will). IPv4-mapped IPv6 is IPv4.
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        },
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        open.total -= 1;
        if let Some(count) = open.by_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_hold_and_a_dropped_pass_frees_its_place() {
        let gate = Gate::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = gate.enter(a).unwrap();
        let _second = gate.enter(a).unwrap();
        assert_eq!(gate.enter(a).err(), Some(GateRefusal::AddressFull(2)));
        let _third = gate.enter(b).unwrap();
        assert_eq!(gate.enter(b).err(), Some(GateRefusal::Full(3)));
        drop(first);
        assert!(gate.enter(a).is_ok());
        assert!(gate.open.lock().unwrap().by_address.len() <= 2);
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let gate = Gate::new(10, 2);
        let _one = gate.enter("2001:db8::1".parse().unwrap()).unwrap();
        let _two = gate.enter("2001:db8::ffff:2".parse().unwrap()).unwrap();
        assert_eq!(
            gate.enter("2001:db8::abcd:1234:5678:9abc".parse().unwrap())
                .err(),
            Some(GateRefusal::AddressFull(2))
        );
        assert!(gate.enter("2001:db8:0:1::1".parse().unwrap()).is_ok());
        let _mapped = gate.enter("::ffff:192.0.2.1".parse().unwrap()).unwrap();
        let _v4 = gate.enter("192.0.2.1".parse().unwrap()).unwrap();
        assert!(gate.enter("192.0.2.1".parse().unwrap()).is_err());
    }
}
