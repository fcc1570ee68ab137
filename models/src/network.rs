//! The network and the disks as compiled resources: the links that have a capacity and the path
//! of links between two hosts; sizes of messages; disks; rebuilds and bulk transfers. Built by
//! `compile/network.rs`, read by `sim/net.rs`, `sim/disk.rs` and `sim/bulk.rs`.

use crate::spec::SizeSpec;
use crate::world::Host;
use rand::RngExt;
use rand_distr::{Distribution, Exp};
use sim_core::Stream;

/// "No link".
pub const NO_LINK: u32 = u32::MAX;
/// Most links a path crosses: the sender's NIC, its rack's uplink, up to two zone links (around
/// a zone link that is down) or a region link, the receiver's rack downlink and NIC; and a bulk
/// job's rate limit.
pub const PATH_MAX: usize = 7;

/// What kind of link, for reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Host,
    RackUplink,
    Zones,
    Regions,
}

/// One direction of a link with a capacity.
#[derive(Clone, Debug)]
pub struct LinkInfo {
    /// `us-east/a/r0/h3 out`, `us-east/a/r0 up`, `us-east/a -> us-east/b`.
    pub name: String,
    pub kind: LinkKind,
    /// Bytes per nanosecond.
    pub capacity: f64,
}

/// The links of a path, in order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Path {
    pub links: [u32; PATH_MAX],
    pub len: u8,
}

impl Path {
    pub const EMPTY: Path = Path {
        links: [NO_LINK; PATH_MAX],
        len: 0,
    };

    fn push(&mut self, link: u32) {
        if link != NO_LINK {
            self.links[self.len as usize] = link;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[u32] {
        &self.links[..self.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The links of the topology that have a capacity, and how hosts reach each other.
#[derive(Clone, Debug, Default)]
pub struct Network {
    pub links: Vec<LinkInfo>,
    /// Per host: its NIC out and in (`NO_LINK` without a host bandwidth).
    pub nic: Vec<(u32, u32)>,
    /// Per rack (`Host::rack_idx`): its uplink up and down.
    pub rack: Vec<(u32, u32)>,
    /// Zones over all regions; `zone_link[a * zones + b]`: the link from zone `a` to zone `b`
    /// of the same region.
    pub zones: usize,
    pub zone_link: Vec<u32>,
    /// Per zone, its region.
    pub zone_region: Vec<u32>,
    pub regions: usize,
    pub region_link: Vec<u32>,
}

impl Network {
    /// Whether any link has a capacity.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The links a message from host `a` to host `b` crosses, with the zone links that are
    /// down (`down[link]`) routed around through another zone of the region; `None` when no
    /// route is left (a NIC, a rack uplink or a region link down on the way, or no zone to go
    /// through).
    pub fn path(&self, hosts: &[Host], a: u32, b: u32, down: &[bool]) -> Option<Path> {
        let mut p = Path::EMPTY;
        if a == b || self.links.is_empty() {
            return Some(p);
        }
        let (ha, hb) = (&hosts[a as usize], &hosts[b as usize]);
        p.push(self.nic[a as usize].0);
        if ha.rack_idx != hb.rack_idx {
            p.push(self.rack[ha.rack_idx as usize].0);
            if ha.region_idx != hb.region_idx {
                let l = self.region_link
                    [ha.region_idx as usize * self.regions + hb.region_idx as usize];
                if l != NO_LINK && down[l as usize] {
                    return None;
                }
                p.push(l);
            } else if ha.zone_idx != hb.zone_idx {
                self.zone_route(ha.zone_idx as usize, hb.zone_idx as usize, down, &mut p)?;
            }
            p.push(self.rack[hb.rack_idx as usize].1);
        }
        p.push(self.nic[b as usize].1);
        if p.as_slice().iter().any(|&l| down[l as usize]) {
            return None;
        }
        Some(p)
    }

    /// The zone links from zone `a` to zone `b`: the direct one, or, when it is down, through
    /// the first other zone of the region whose two links are up.
    fn zone_route(&self, a: usize, b: usize, down: &[bool], p: &mut Path) -> Option<()> {
        let link = |x: usize, y: usize| self.zone_link[x * self.zones + y];
        let up = |l: u32| l == NO_LINK || !down[l as usize];
        if up(link(a, b)) {
            p.push(link(a, b));
            return Some(());
        }
        let region = self.zone_region[a];
        let via = (0..self.zones).find(|&c| {
            c != a && c != b && self.zone_region[c] == region && up(link(a, c)) && up(link(c, b))
        })?;
        p.push(link(a, via));
        p.push(link(via, b));
        Some(())
    }
}

/// A compiled distribution of sizes, in bytes.
#[derive(Clone, Debug)]
pub enum SizeDist {
    Constant(u64),
    Exponential { exp: Exp<f64>, mean: f64 },
    Uniform { min: f64, span: f64 },
}

impl SizeDist {
    /// Compiles a spec (`None` for one that is not valid: a mean of zero, a minimum above
    /// the maximum; `compile` reports those).
    pub fn new(spec: &SizeSpec) -> Option<SizeDist> {
        Some(match spec {
            SizeSpec::Constant(b) if b.0 <= u64::from(u32::MAX) => SizeDist::Constant(b.0),
            SizeSpec::Exponential { mean } if mean.0 > 0 => SizeDist::Exponential {
                exp: Exp::new(1.0 / mean.0 as f64).ok()?,
                mean: mean.0 as f64,
            },
            SizeSpec::Uniform { min, max } if min.0 <= max.0 => SizeDist::Uniform {
                min: min.0 as f64,
                span: (max.0 - min.0) as f64,
            },
            _ => return None,
        })
    }

    /// Whether a draw is needed (a constant is not drawn).
    pub fn is_random(&self) -> bool {
        !matches!(self, SizeDist::Constant(_))
    }

    /// The mean size.
    pub fn mean(&self) -> f64 {
        match self {
            SizeDist::Constant(b) => *b as f64,
            SizeDist::Exponential { mean, .. } => *mean,
            SizeDist::Uniform { min, span } => min + span / 2.0,
        }
    }

    /// Draws one size, rounded to whole bytes (at most 4 GiB: a message is held in a `u32`).
    #[inline]
    pub fn sample(&self, rng: &mut Stream) -> u32 {
        let x = match self {
            SizeDist::Constant(b) => *b as f64,
            SizeDist::Exponential { exp, .. } => exp.sample(rng),
            SizeDist::Uniform { min, span } => min + span * rng.random::<f64>(),
        };
        x.round().clamp(0.0, u32::MAX as f64) as u32
    }
}

/// The order in which a disk serves its queue (`spec::DiskQueue`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DiskOrder {
    Fifo,
    UserFirst,
}

/// Every host's disk, compiled.
#[derive(Clone, Debug)]
pub struct DiskDef {
    /// Nanoseconds an operation takes at least (`1 / iops`; 0 without a limit).
    pub op_ns: f64,
    /// Bytes per nanosecond.
    pub throughput: f64,
    pub fsync_ns: u64,
    /// Bytes each disk holds (`u64::MAX`: no limit).
    pub capacity: u64,
    pub order: DiskOrder,
}

impl DiskDef {
    /// How long an operation of `bytes` takes on a disk `slow` times slower than it should be,
    /// with a flush when `fsync`.
    pub fn op_time_ns(&self, bytes: u64, fsync: bool, slow: f64) -> u64 {
        let t = self.op_ns.max(bytes as f64 / self.throughput) * slow;
        (t.ceil() as u64).max(1) + if fsync { self.fsync_ns } else { 0 }
    }
}

/// A datastore's rebuilds, compiled (`spec::RebuildSpec`, with `data`).
#[derive(Copy, Clone, Debug)]
pub struct RebuildDef {
    /// Bytes each copy holds.
    pub data: u64,
    /// A copy out of reach this long is rebuilt in full (`u64::MAX`: never).
    pub after_ns: u64,
    /// Bytes per nanosecond each rebuild may send (`f64::INFINITY`: no limit).
    pub rate: f64,
    pub chunk: u64,
    pub parallel: u32,
}

/// A bulk transfer, compiled.
#[derive(Clone, Debug)]
pub struct TransferDef {
    pub name: String,
    /// Hosts, or a service whose primary (or first instance) is the end: `(host, service)`,
    /// one of them `u32::MAX`.
    pub from: (u32, u32),
    pub to: (u32, u32),
    pub size: u64,
    pub at_ns: u64,
    pub rate: f64,
    pub chunk: u64,
    pub parallel: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(rack: u32, zone: u32, region: u32) -> Host {
        Host {
            name: String::new(),
            region_idx: region,
            zone_idx: zone,
            rack_idx: rack,
            spread_key: (0, 0, 0, 0),
        }
    }

    /// Three zones of one region, a rack each, a host each; every kind of link.
    fn three_zones() -> (Network, Vec<Host>) {
        let mut net = Network {
            zones: 3,
            regions: 1,
            zone_region: vec![0, 0, 0],
            region_link: vec![NO_LINK],
            ..Default::default()
        };
        let add = |net: &mut Network, name: &str| {
            net.links.push(LinkInfo {
                name: name.into(),
                kind: LinkKind::Host,
                capacity: 1.0,
            });
            net.links.len() as u32 - 1
        };
        for h in 0..3 {
            let (o, i) = (
                add(&mut net, &format!("h{h} out")),
                add(&mut net, &format!("h{h} in")),
            );
            net.nic.push((o, i));
            let (u, d) = (
                add(&mut net, &format!("r{h} up")),
                add(&mut net, &format!("r{h} down")),
            );
            net.rack.push((u, d));
        }
        net.zone_link = vec![NO_LINK; 9];
        for a in 0..3 {
            for b in 0..3 {
                if a != b {
                    net.zone_link[a * 3 + b] = add(&mut net, &format!("z{a} -> z{b}"));
                }
            }
        }
        let hosts = (0..3).map(|k| host(k, k, 0)).collect();
        (net, hosts)
    }

    fn names(net: &Network, p: Path) -> Vec<&str> {
        p.as_slice()
            .iter()
            .map(|&l| net.links[l as usize].name.as_str())
            .collect()
    }

    #[test]
    fn a_path_crosses_nics_uplinks_and_the_zone_link() {
        let (net, hosts) = three_zones();
        let down = vec![false; net.links.len()];
        let p = net.path(&hosts, 0, 1, &down).unwrap();
        assert_eq!(
            names(&net, p),
            ["h0 out", "r0 up", "z0 -> z1", "r1 down", "h1 in"]
        );
        assert!(net.path(&hosts, 2, 2, &down).unwrap().is_empty());
    }

    #[test]
    fn a_zone_link_that_is_down_is_routed_around() {
        let (net, hosts) = three_zones();
        let mut down = vec![false; net.links.len()];
        let direct = net.zone_link[1];
        down[direct as usize] = true;
        let p = net.path(&hosts, 0, 1, &down).unwrap();
        assert_eq!(
            names(&net, p),
            ["h0 out", "r0 up", "z0 -> z2", "z2 -> z1", "r1 down", "h1 in"]
        );
        down[net.zone_link[2] as usize] = true; // z0 -> z2 as well: no route left
        assert_eq!(net.path(&hosts, 0, 1, &down), None);
        // The other direction is a link of its own, still up.
        assert_eq!(net.path(&hosts, 1, 0, &down).unwrap().len, 5);
    }

    #[test]
    fn disk_operations_take_the_longer_of_iops_and_throughput() {
        let d = DiskDef {
            op_ns: 100_000.0, // 10,000 IOPS
            throughput: 0.1,  // 100 MB/s
            fsync_ns: 1_000,
            capacity: u64::MAX,
            order: DiskOrder::Fifo,
        };
        assert_eq!(d.op_time_ns(4096, false, 1.0), 100_000);
        assert_eq!(d.op_time_ns(1 << 20, false, 1.0), 10_485_760);
        assert_eq!(d.op_time_ns(4096, true, 2.0), 201_000);
    }
}
