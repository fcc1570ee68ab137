//! The network and the disks as resources: the links that have a capacity (`topology.bandwidth`),
//! the disks (`topology.disk`), message sizes, datastore rebuilds, bulk transfers, and the links
//! faults on capacity name.

use super::check::{At, Checker};
use crate::error::closest;
use crate::network::{
    DiskDef, DiskOrder, LinkInfo, LinkKind, Network, RebuildDef, SizeDist, TransferDef, NO_LINK,
};
use crate::spec::{Bytes, DatastoreSpec, DiskQueue, LinkRef, Rate, Scenario, SizeSpec};
use crate::world::Host;

/// The links of the topology that have a capacity.
pub(super) fn build_network(ck: &mut Checker, spec: &Scenario, hosts: &[Host]) -> Network {
    let Some(bw) = &spec.topology.bandwidth else {
        return Network::default();
    };
    let at = At::root().field("topology").field("bandwidth");
    let uplink = rack_uplink(ck, spec, &at);
    let mut net = Network::default();
    let add = |net: &mut Network, name: String, kind, rate: Option<Rate>| match rate {
        Some(r) => {
            net.links.push(LinkInfo {
                name,
                kind,
                capacity: r.per_ns(),
            });
            net.links.len() as u32 - 1
        }
        None => NO_LINK,
    };
    for h in hosts {
        let o = add(&mut net, format!("{} out", h.name), LinkKind::Host, bw.host);
        let i = add(&mut net, format!("{} in", h.name), LinkKind::Host, bw.host);
        net.nic.push((o, i));
    }
    for h in hosts {
        if h.rack_idx as usize == net.rack.len() {
            let rack = rack_name(&h.name);
            let u = add(&mut net, format!("{rack} up"), LinkKind::RackUplink, uplink);
            let d = add(
                &mut net,
                format!("{rack} down"),
                LinkKind::RackUplink,
                uplink,
            );
            net.rack.push((u, d));
        }
    }
    zone_and_region_links(spec, bw, &mut net, add);
    net
}

/// The zone-to-zone links of each region and the region-to-region links, each way.
fn zone_and_region_links(
    spec: &Scenario,
    bw: &crate::spec::Bandwidth,
    net: &mut Network,
    add: impl Fn(&mut Network, String, LinkKind, Option<Rate>) -> u32,
) {
    let zones: Vec<(u32, String)> = spec
        .topology
        .regions
        .iter()
        .enumerate()
        .flat_map(|(r, region)| {
            let name = &region.name;
            region
                .zones
                .iter()
                .map(move |z| (r as u32, format!("{name}/{}", z.name)))
        })
        .collect();
    net.zones = zones.len();
    net.zone_region = zones.iter().map(|z| z.0).collect();
    net.zone_link = vec![NO_LINK; zones.len() * zones.len()];
    for (a, za) in zones.iter().enumerate() {
        for (b, zb) in zones.iter().enumerate() {
            if a != b && za.0 == zb.0 {
                let name = format!("{} -> {}", za.1, zb.1);
                net.zone_link[a * zones.len() + b] = add(net, name, LinkKind::Zones, bw.cross_zone);
            }
        }
    }
    let regions = &spec.topology.regions;
    net.regions = regions.len();
    net.region_link = vec![NO_LINK; regions.len() * regions.len()];
    for (a, ra) in regions.iter().enumerate() {
        for (b, rb) in regions.iter().enumerate() {
            if a != b {
                let name = format!("{} -> {}", ra.name, rb.name);
                net.region_link[a * regions.len() + b] =
                    add(net, name, LinkKind::Regions, bw.cross_region);
            }
        }
    }
}

/// A host's rack: its name without the last part.
fn rack_name(host: &str) -> &str {
    host.rsplit_once('/').map_or(host, |(rack, _)| rack)
}

/// The rack uplink's capacity: given, or the NICs of a rack's hosts over the oversubscription.
fn rack_uplink(ck: &mut Checker, spec: &Scenario, at: &At) -> Option<Rate> {
    let bw = spec.topology.bandwidth.as_ref()?;
    let Some(ratio) = bw.oversubscription else {
        return bw.rack_uplink;
    };
    let ratio_at = at.field("oversubscription");
    if bw.rack_uplink.is_some() {
        ck.report(
            &ratio_at,
            "give the rack uplink either as `rack_uplink` or as an `oversubscription` of the hosts' NICs, not both".into(),
            None,
        );
        return bw.rack_uplink;
    }
    let Some(nic) = bw.host else {
        ck.report(
            &ratio_at,
            "an oversubscription divides the hosts' NICs: give `host` too".into(),
            None,
        );
        return None;
    };
    if !(ratio.is_finite() && ratio >= 1.0) {
        ck.report(
            &ratio_at,
            format!("an oversubscription ratio is 1 or more (4.0: four times the uplink's bandwidth), not `{ratio}`"),
            None,
        );
        return None;
    }
    // Zones may differ in rack size: the uplink is set by the largest rack.
    let hosts_per_rack = spec
        .topology
        .regions
        .iter()
        .flat_map(|r| r.zones.iter().map(|z| z.hosts_per_rack))
        .max()
        .unwrap_or(1);
    Some(Rate(nic.0 * f64::from(hosts_per_rack) / ratio))
}

/// Every host's disk.
pub(super) fn build_disk(ck: &mut Checker, spec: &Scenario) -> Option<DiskDef> {
    let d = spec.topology.disk.as_ref()?;
    let at = At::root().field("topology").field("disk");
    let op_ns = match d.iops {
        Some(iops) if iops.is_finite() && iops > 0.0 => 1e9 / iops,
        Some(iops) => {
            ck.report(
                &at.field("iops"),
                format!("`iops` is a number of operations per second above zero, not `{iops}`"),
                None,
            );
            0.0
        }
        None => 0.0,
    };
    if d.capacity == Some(Bytes(0)) {
        ck.report(
            &at.field("capacity"),
            "a disk's capacity is above zero".into(),
            None,
        );
    }
    Some(DiskDef {
        op_ns,
        throughput: d.throughput.per_ns(),
        fsync_ns: d.fsync.0.as_ns(),
        capacity: d.capacity.map_or(u64::MAX, |b| b.0),
        order: match d.queue {
            DiskQueue::Fifo => DiskOrder::Fifo,
            DiskQueue::UserFirst => DiskOrder::UserFirst,
        },
    })
}

/// A distribution of sizes, checked.
pub(super) fn size(ck: &mut Checker, at: &At, spec: &Option<SizeSpec>) -> Option<SizeDist> {
    let spec = spec.as_ref()?;
    let dist = SizeDist::new(spec);
    if dist.is_none() {
        let why = match spec {
            SizeSpec::Constant(_) => {
                "a message's size is at most 4 GiB (a bulk copy is a `transfer`)"
            }
            SizeSpec::Exponential { .. } => "an exponential size needs a mean above zero",
            _ => "a uniform size needs `min` at most `max`",
        };
        ck.report(at, why.into(), None);
    }
    dist
}

/// A datastore's rebuilds, when it says how much data each copy holds.
pub(super) fn build_rebuild(
    ck: &mut Checker,
    spec: &Scenario,
    d: &DatastoreSpec,
    at: &At,
) -> Option<RebuildDef> {
    if d.fsync && spec.topology.disk.is_none() {
        ck.report(
            &at.field("fsync"),
            "`fsync` waits for a disk: give the topology a `disk`".into(),
            None,
        );
    }
    let Some(data) = d.data else {
        if d.rebuild.is_some() {
            ck.report(
                &at.field("rebuild"),
                "a rebuild copies the data of a copy: give the datastore its `data` size".into(),
                None,
            );
        }
        return None;
    };
    let r = d.rebuild.clone().unwrap_or_default();
    let r_at = at.field("rebuild");
    if r.chunk.0 == 0 {
        ck.report(
            &r_at.field("chunk"),
            "a chunk is above zero bytes".into(),
            None,
        );
    }
    if r.parallel == 0 {
        ck.report(
            &r_at.field("parallel"),
            "a rebuild sends at least 1 chunk at a time".into(),
            None,
        );
    }
    Some(RebuildDef {
        data: data.0,
        after_ns: r.after.map_or(u64::MAX, |a| a.0.as_ns()),
        rate: r.rate.map_or(f64::INFINITY, Rate::per_ns),
        chunk: r.chunk.0.max(1),
        parallel: r.parallel.max(1),
    })
}

/// The bulk transfers.
pub(super) fn build_transfers(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
) -> Vec<TransferDef> {
    let mut out = Vec::new();
    for (k, t) in spec.transfers.iter().enumerate() {
        let at = At::root().field("transfers").named(k, &t.name);
        let from = end(ck, spec, hosts, &at.field("from"), &t.from);
        let to = end(ck, spec, hosts, &at.field("to"), &t.to);
        if t.chunk.0 == 0 || t.parallel == 0 {
            ck.report(
                &at,
                "a transfer sends chunks above zero bytes, at least 1 at a time".into(),
                None,
            );
        }
        if t.size.0 == 0 {
            ck.report(
                &at.field("size"),
                "a transfer moves more than zero bytes".into(),
                None,
            );
        }
        ck.starts_in_time(&at.field("at"), "the transfer", t.at, spec);
        if let (Some(from), Some(to)) = (from, to) {
            out.push(TransferDef {
                name: t.name.clone(),
                from,
                to,
                size: t.size.0,
                at_ns: t.at.0.as_ns(),
                rate: t.rate.map_or(f64::INFINITY, Rate::per_ns),
                chunk: t.chunk.0.max(1),
                parallel: t.parallel.max(1),
            });
        }
    }
    out
}

/// One end of a transfer: a host by name, or a service.
fn end(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    name: &str,
) -> Option<(u32, u32)> {
    if let Some(h) = hosts.iter().position(|h| h.name == name) {
        return Some((h as u32, u32::MAX));
    }
    if let Some(s) = spec.services.iter().position(|s| s.name == name) {
        return Some((u32::MAX, s as u32));
    }
    let known: Vec<&str> = spec
        .services
        .iter()
        .map(|s| s.name.as_str())
        .chain(hosts.iter().map(|h| h.name.as_str()))
        .collect();
    let hint = closest(name, known.iter().copied());
    ck.report(
        at,
        format!("`{name}` is neither a host (`region/zone/r0/h0`) nor a service"),
        hint,
    );
    None
}

/// The links (both directions) a fault on capacity names; reported when the topology gives
/// that link no bandwidth, or names no such place.
pub(super) fn link_ids(ck: &mut Checker, net: &Network, at: &At, link: &LinkRef) -> Vec<u32> {
    let wanted: Vec<String> = match link {
        LinkRef::Host(h) => vec![format!("{h} out"), format!("{h} in")],
        LinkRef::RackUplink(r) => vec![format!("{r} up"), format!("{r} down")],
        LinkRef::Zones(a, b) | LinkRef::Regions(a, b) => {
            vec![format!("{a} -> {b}"), format!("{b} -> {a}")]
        }
    };
    let ids: Vec<u32> = wanted
        .iter()
        .filter_map(|w| {
            net.links
                .iter()
                .position(|l| l.name == *w)
                .map(|i| i as u32)
        })
        .collect();
    if ids.len() == 2 {
        return ids;
    }
    let (kind, field, what) = match link {
        LinkRef::Host(_) => (LinkKind::Host, "`topology.bandwidth.host`", "host"),
        LinkRef::RackUplink(_) => (
            LinkKind::RackUplink,
            "`rack_uplink` or `oversubscription`",
            "rack",
        ),
        LinkRef::Zones(..) => (LinkKind::Zones, "`cross_zone`", "zone (`region/zone`)"),
        LinkRef::Regions(..) => (LinkKind::Regions, "`cross_region`", "region"),
    };
    // The places the links of this kind join, as a scenario names them.
    let mut known: Vec<&str> = (net.links.iter())
        .filter(|l| l.kind == kind)
        .flat_map(|l| {
            let name = l.name.as_str();
            let name = ["out", "in", "up", "down"]
                .iter()
                .find_map(|s| name.strip_suffix(&format!(" {s}")[..]))
                .unwrap_or(name);
            name.split(" -> ")
        })
        .collect();
    known.sort_unstable();
    known.dedup();
    if known.is_empty() {
        let msg =
            format!("this link has no bandwidth to act on: give the topology's bandwidth {field}");
        ck.report(at, msg, None);
        return Vec::new();
    }
    let ends: Vec<&str> = match link {
        LinkRef::Host(a) | LinkRef::RackUplink(a) => vec![a],
        LinkRef::Zones(a, b) | LinkRef::Regions(a, b) => vec![a, b],
    };
    match ends.iter().find(|e| !known.contains(e)) {
        Some(e) => {
            let hint = closest(e, known.iter().copied());
            ck.report(at, format!("no {what} `{e}` in the topology"), hint);
        }
        None => ck.report(at, "a link joins two different places".into(), None),
    }
    Vec::new()
}

/// Warns of network and disk settings that cannot take effect: sizes where nothing has a
/// capacity, a disk that no datastore uses, links that nothing with a size crosses.
pub(super) fn warn_inert(ck: &mut Checker, spec: &Scenario) {
    let topology = At::root().field("topology");
    let sized = first_size(spec);
    let copies = spec.transfers.is_empty()
        && !(spec.services.iter()).any(|s| s.datastore.as_ref().is_some_and(|d| d.data.is_some()));
    let (bandwidth, disk) = (
        spec.topology.bandwidth.is_some(),
        spec.topology.disk.is_some(),
    );
    let retransmits = (spec.faults.iter()).any(|f| {
        matches!(
            f.what,
            crate::spec::FaultKind::PacketLoss {
                retransmit: Some(_),
                ..
            }
        )
    });
    if let Some(at) = &sized {
        if !bandwidth && !disk && !retransmits {
            let msg = "a size takes time only on links with a capacity (`topology.bandwidth`), on disks (`topology.disk`) or in retransmissions (`PacketLoss(.., retransmit:)`), and this scenario has none: it changes nothing".into();
            ck.warn(at, msg);
        }
    } else if bandwidth && copies {
        let msg = "no message has a size (`request_bytes`, `response_bytes`) and nothing is copied (datastores' `data`, `transfers`): the links carry nothing".into();
        ck.warn(&topology.field("bandwidth"), msg);
    }
    if disk && !spec.services.iter().any(|s| s.datastore.is_some()) && spec.transfers.is_empty() {
        let msg = "only datastores, rebuilds and transfers use disks, and this scenario has none: the disks do nothing".into();
        ck.warn(&topology.field("disk"), msg);
    }
}

/// Where the first size of the scenario is written.
fn first_size(spec: &Scenario) -> Option<At> {
    use crate::spec::Step;
    for (si, svc) in spec.services.iter().enumerate() {
        let calls = At::root()
            .field("services")
            .named(si, &svc.name)
            .field("calls");
        for (k, step) in svc.calls.iter().enumerate() {
            let inner: Vec<(At, &Step)> = match step {
                Step::Call { .. } => vec![(calls.index(k), step)],
                Step::Parallel(steps) => (steps.iter().enumerate())
                    .map(|(j, s)| (calls.index(k).index(j), s))
                    .collect(),
            };
            for (at, s) in inner {
                if let Step::Call {
                    request_bytes,
                    response_bytes,
                    ..
                } = s
                {
                    if request_bytes.is_some() {
                        return Some(at.field("request_bytes"));
                    }
                    if response_bytes.is_some() {
                        return Some(at.field("response_bytes"));
                    }
                }
            }
        }
    }
    let w = spec
        .workload
        .iter()
        .position(|w| w.request_bytes.is_some())?;
    Some(At::root().field("workload").index(w).field("request_bytes"))
}
