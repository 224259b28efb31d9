//! Address allocation for simulated nodes: one /24 pod CIDR per node out of the cluster CIDR,
//! and pod IPs out of a node's /24.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

/// Errors of parsing a CIDR.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The text is not an IPv4 CIDR.
    #[error("invalid IPv4 CIDR {0:?}")]
    Invalid(String),
    /// The range is smaller than one /24.
    #[error("cluster CIDR {0} is smaller than a /24")]
    TooSmall(String),
}

/// An IPv4 network: base address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The first address (host bits zero).
    pub base: u32,
    /// The prefix length.
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n`; host bits are cleared.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let invalid = || Error::Invalid(s.to_string());
        let (ip, prefix) = s.trim().split_once('/').ok_or_else(invalid)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        if prefix > 32 {
            return Err(invalid());
        }
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Ok(Ipv4Cidr {
            base: u32::from(ip) & mask,
            prefix,
        })
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        };
        u32::from(ip) & mask == self.base
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// Hands out the /24 subnets of a cluster CIDR, each at most once.
#[derive(Debug)]
pub struct NodeCidrAllocator {
    cluster: Ipv4Cidr,
    used: BTreeSet<u32>,
    next: u32,
}

impl NodeCidrAllocator {
    /// An allocator over `cluster`, which must be a /24 or larger.
    pub fn new(cluster: Ipv4Cidr) -> Result<Self, Error> {
        if cluster.prefix > 24 {
            return Err(Error::TooSmall(cluster.to_string()));
        }
        Ok(NodeCidrAllocator {
            cluster,
            used: BTreeSet::new(),
            next: 0,
        })
    }

    fn subnets(&self) -> u32 {
        1u32 << (24 - self.cluster.prefix)
    }

    /// Records a /24 already assigned to some node (ignored when outside the cluster CIDR).
    pub fn mark_used(&mut self, cidr: &str) {
        if let Ok(c) = Ipv4Cidr::parse(cidr)
            && c.prefix == 24
            && self.cluster.contains(Ipv4Addr::from(c.base))
        {
            self.used.insert((c.base - self.cluster.base) >> 8);
        }
    }

    /// Gives a /24 back.
    pub fn release(&mut self, cidr: &str) {
        if let Ok(c) = Ipv4Cidr::parse(cidr)
            && c.prefix == 24
            && self.cluster.contains(Ipv4Addr::from(c.base))
        {
            self.used.remove(&((c.base - self.cluster.base) >> 8));
        }
    }

    /// A free /24, or `None` when the cluster CIDR is exhausted.
    pub fn allocate(&mut self) -> Option<Ipv4Cidr> {
        let total = self.subnets();
        for step in 0..total {
            let index = (self.next + step) % total;
            if !self.used.contains(&index) {
                self.used.insert(index);
                self.next = (index + 1) % total;
                return Some(Ipv4Cidr {
                    base: self.cluster.base + (index << 8),
                    prefix: 24,
                });
            }
        }
        None
    }
}

/// Hands out pod IPs of each node's /24: `.2` to `.254` (`.1` is the node's bridge address).
#[derive(Debug, Default)]
pub struct PodIpAllocator {
    used: HashMap<u32, BTreeSet<u8>>,
}

impl PodIpAllocator {
    /// Records `ip` as taken (in the /24 it lies in).
    pub fn mark_used(&mut self, ip: Ipv4Addr) {
        let host = (u32::from(ip) & 0xff) as u8;
        self.used
            .entry(u32::from(ip) & !0xff)
            .or_default()
            .insert(host);
    }

    /// Gives `ip` back.
    pub fn release(&mut self, ip: Ipv4Addr) {
        let base = u32::from(ip) & !0xff;
        if let Some(set) = self.used.get_mut(&base) {
            set.remove(&((u32::from(ip) & 0xff) as u8));
            if set.is_empty() {
                self.used.remove(&base);
            }
        }
    }

    /// A free address of `node_cidr` (a /24), or `None` when all are taken.
    pub fn allocate(&mut self, node_cidr: Ipv4Cidr) -> Option<Ipv4Addr> {
        let used = self.used.entry(node_cidr.base).or_default();
        let host = (2u8..=254).find(|h| !used.contains(h))?;
        used.insert(host);
        Some(Ipv4Addr::from(node_cidr.base + u32::from(host)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        Ipv4Cidr::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_and_formats() {
        assert_eq!(cidr("10.42.7.9/16").to_string(), "10.42.0.0/16");
        assert!(Ipv4Cidr::parse("10.42.0.0").is_err());
        assert!(Ipv4Cidr::parse("10.42.0.0/33").is_err());
        assert!(Ipv4Cidr::parse("fd00::/64").is_err());
        assert!(
            cidr("10.42.0.0/16").contains("10.42.255.1".parse().unwrap_or(Ipv4Addr::UNSPECIFIED))
        );
    }

    #[test]
    fn node_cidrs_are_unique_and_skip_used_ones() {
        let mut a = NodeCidrAllocator::new(cidr("10.42.0.0/16")).unwrap_or_else(|e| panic!("{e}"));
        a.mark_used("10.42.1.0/24");
        a.mark_used("192.168.0.0/24");
        let first = a.allocate().map(|c| c.to_string());
        let second = a.allocate().map(|c| c.to_string());
        assert_eq!(first.as_deref(), Some("10.42.0.0/24"));
        assert_eq!(second.as_deref(), Some("10.42.2.0/24"));
    }

    #[test]
    fn node_cidrs_run_out_and_come_back() {
        let mut a = NodeCidrAllocator::new(cidr("10.42.0.0/23")).unwrap_or_else(|e| panic!("{e}"));
        let one = a.allocate();
        let two = a.allocate();
        assert!(one.is_some() && two.is_some() && one != two);
        assert_eq!(a.allocate(), None);
        a.release("10.42.1.0/24");
        assert_eq!(
            a.allocate().map(|c| c.to_string()).as_deref(),
            Some("10.42.1.0/24")
        );
        assert!(NodeCidrAllocator::new(cidr("10.42.0.0/25")).is_err());
    }

    #[test]
    fn pod_ips_come_from_the_node_cidr() {
        let node = cidr("10.42.3.0/24");
        let mut a = PodIpAllocator::default();
        a.mark_used(Ipv4Addr::new(10, 42, 3, 2));
        assert_eq!(a.allocate(node), Some(Ipv4Addr::new(10, 42, 3, 3)));
        a.release(Ipv4Addr::new(10, 42, 3, 2));
        assert_eq!(a.allocate(node), Some(Ipv4Addr::new(10, 42, 3, 2)));
        for _ in 0..251 {
            assert!(a.allocate(node).is_some());
        }
        assert_eq!(a.allocate(node), None);
    }
}
