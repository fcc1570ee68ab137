//! The topology: regions, zones, racks and hosts, the latency between them, the hosts a
//! placement allows, and the hosts a place name stands for.

use super::check::{At, Checker};
use super::HOSTS_MAX;
use crate::dist::Dist;
use crate::error::{closest, one_of};
use crate::spec::{Placement, Region, Scenario, Zone};
use crate::world::Host;

/// The hosts of the topology, or `None` when it is invalid (problems reported).
pub(super) fn build_hosts(ck: &mut Checker, spec: &Scenario) -> Option<Vec<Host>> {
    let regions = &spec.topology.regions;
    let regions_at = At::root().field("topology").field("regions");
    let problems_before = ck.problems.len();
    if regions.is_empty() {
        ck.report(
            &regions_at,
            "the topology needs at least one region".into(),
            None,
        );
    }
    let mut total: u64 = 0;
    let mut big_zone = false;
    for (r, region) in regions.iter().enumerate() {
        check_region(ck, regions, r, &regions_at);
        let zones_at = regions_at.named(r, &region.name).field("zones");
        for z in 0..region.zones.len() {
            let zone_hosts = check_zone(ck, region, z, &zones_at);
            big_zone |= zone_hosts > HOSTS_MAX;
            total = total.saturating_add(zone_hosts);
        }
    }
    if total > HOSTS_MAX && !big_zone {
        ck.report(
            &regions_at,
            format!("the topology has {total} hosts; Faultline simulates at most {HOSTS_MAX}"),
            None,
        );
    }
    if ck.problems.len() > problems_before {
        return None;
    }
    Some(lay_out_hosts(regions))
}

/// Region `r`: a name, given once, and at least one zone.
fn check_region(ck: &mut Checker, regions: &[Region], r: usize, regions_at: &At) {
    let region = &regions[r];
    let rat = regions_at.named(r, &region.name);
    if region.name.trim().is_empty() {
        ck.report(&rat.field("name"), "a region needs a name".into(), None);
    }
    if let Some(first) = regions[..r].iter().position(|o| o.name == region.name) {
        let (first_at, again) = (regions_at.index(first), regions_at.index(r));
        ck.defined_twice("region", &region.name, "", &first_at, &again);
    }
    if region.zones.is_empty() {
        ck.report(
            &rat.field("zones"),
            format!("region `{}` needs at least one zone", region.name),
            None,
        );
    }
}

/// Zone `z` of `region`: a name without `/`, given once, racks and hosts, not too many. Returns
/// its number of hosts.
fn check_zone(ck: &mut Checker, region: &Region, z: usize, zones_at: &At) -> u64 {
    let zone = &region.zones[z];
    let zat = zones_at.named(z, &zone.name);
    if zone.name.trim().is_empty() {
        ck.report(&zat.field("name"), "a zone needs a name".into(), None);
    } else if zone.name.contains('/') {
        ck.report(
            &zat.field("name"),
            format!(
                "zone name `{}` contains `/`, which separates a region from a zone in placements",
                zone.name
            ),
            None,
        );
    }
    if let Some(first) = region.zones[..z].iter().position(|o| o.name == zone.name) {
        let (first_at, again) = (zones_at.index(first), zones_at.index(z));
        let within = format!(" in region `{}`", region.name);
        ck.defined_twice("zone", &zone.name, &within, &first_at, &again);
    }
    check_zone_size(ck, zone, &zat)
}

/// A zone has at least one rack of at least one host, and not more hosts than Faultline
/// simulates. Returns its number of hosts.
fn check_zone_size(ck: &mut Checker, zone: &Zone, zat: &At) -> u64 {
    for (field, n) in [
        ("racks", zone.racks),
        ("hosts_per_rack", zone.hosts_per_rack),
    ] {
        if n == 0 {
            ck.report(
                &zat.field(field),
                format!("zone `{}` needs `{field}` of at least 1", zone.name),
                None,
            );
        }
    }
    let zone_hosts = u64::from(zone.racks) * u64::from(zone.hosts_per_rack);
    if zone_hosts > HOSTS_MAX {
        ck.report(
            &zat.field("hosts_per_rack"),
            format!(
                "zone `{}` has {zone_hosts} hosts ({} racks of {}); Faultline simulates at most {HOSTS_MAX}",
                zone.name, zone.racks, zone.hosts_per_rack
            ),
            None,
        );
    }
    zone_hosts
}

/// Every host of a valid topology, region by region, zone by zone, rack by rack.
fn lay_out_hosts(regions: &[Region]) -> Vec<Host> {
    let mut hosts = Vec::new();
    let (mut zone_idx, mut rack_idx) = (0u32, 0u32);
    for (r, region) in regions.iter().enumerate() {
        for (z, zone) in region.zones.iter().enumerate() {
            for rack in 0..zone.racks {
                for host in 0..zone.hosts_per_rack {
                    hosts.push(Host {
                        name: format!("{}/{}/r{rack}/h{host}", region.name, zone.name),
                        region_idx: r as u32,
                        zone_idx,
                        rack_idx,
                        spread_key: (host, rack, z as u32, r as u32),
                    });
                }
                rack_idx += 1;
            }
            zone_idx += 1;
        }
    }
    hosts
}

/// The latency of a message by distance class (same host to cross region), and that of the
/// clients.
pub(super) fn build_latency(ck: &mut Checker, spec: &Scenario) -> ([Dist; 5], Dist) {
    let latency_spec = &spec.topology.latency;
    let lat_at = At::root().field("topology").field("latency");
    let mut lat = |name: &str, d| ck.dist(&lat_at.field(name), d);
    let latency = [
        lat("same_host", &latency_spec.same_host),
        lat("same_rack", &latency_spec.same_rack),
        lat("same_zone", &latency_spec.same_zone),
        lat("cross_zone", &latency_spec.cross_zone),
        lat("cross_region", &latency_spec.cross_region),
    ];
    (latency, lat("client", &latency_spec.client))
}

/// Hosts eligible for a placement, in interleaved order (spread first across regions, then zones,
/// racks and hosts), or `None` after reporting an unknown region or zone.
pub(super) fn placement_hosts(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    placement: &Placement,
) -> Option<Vec<u32>> {
    let regions = &spec.topology.regions;
    let mut eligible: Vec<u32> = match placement {
        Placement::Spread => (0..hosts.len() as u32).collect(),
        Placement::InRegion(name) => {
            let Some(r) = regions.iter().position(|r| &r.name == name) else {
                let known: Vec<&str> = regions.iter().map(|r| r.name.as_str()).collect();
                ck.unknown(at, "region", name, &known);
                return None;
            };
            (0..hosts.len() as u32)
                .filter(|&h| hosts[h as usize].region_idx == r as u32)
                .collect()
        }
        Placement::InZone(name) => in_zone(ck, spec, hosts, at, name)?,
        Placement::InZones(names) => in_zones(ck, spec, hosts, at, names)?,
    };
    // Interleave: host 0 of rack 0 of zone 0 of each region, then zone 1, ...
    eligible.sort_by_key(|&h| hosts[h as usize].spread_key);
    Some(eligible)
}

/// The hosts of every zone in `names`, or `None` after reporting an unknown, ambiguous or
/// repeated zone, or an empty list.
fn in_zones(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    names: &[String],
) -> Option<Vec<u32>> {
    if names.is_empty() {
        ck.report(at, "`InZones` needs at least one zone".into(), None);
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (k, name) in names.iter().enumerate() {
        if names[..k].contains(name) {
            let msg = format!("zone `{name}` is listed twice");
            ck.report(&at.index(k), msg, None);
            ok = false;
            continue;
        }
        match in_zone(ck, spec, hosts, &at.index(k), name) {
            Some(h) => out.extend(h),
            None => ok = false,
        }
    }
    out.sort_unstable();
    out.dedup();
    ok.then_some(out)
}

/// The hosts of the zone `name` (`a`, or `eu-west/a` when several regions have an `a`), or
/// `None` after reporting an unknown or ambiguous zone.
fn in_zone(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    name: &str,
) -> Option<Vec<u32>> {
    let zones: Vec<(&str, &str)> = spec
        .topology
        .regions
        .iter()
        .flat_map(|r| {
            r.zones
                .iter()
                .map(move |z| (r.name.as_str(), z.name.as_str()))
        })
        .collect();
    let matches: Vec<u32> = (0..zones.len() as u32)
        .filter(|&i| {
            let (r, z) = zones[i as usize];
            z == name || name.split_once('/') == Some((r, z))
        })
        .collect();
    match matches[..] {
        [zone] => Some(
            (0..hosts.len() as u32)
                .filter(|&h| hosts[h as usize].zone_idx == zone)
                .collect(),
        ),
        [] => {
            // Zones by the shortest name that names them alone.
            let known: Vec<String> = zones
                .iter()
                .map(|&(r, z)| {
                    if zones.iter().filter(|&&(_, o)| o == z).count() == 1 && !name.contains('/') {
                        z.to_string()
                    } else {
                        format!("{r}/{z}")
                    }
                })
                .collect();
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            ck.unknown(at, "zone", name, &known);
            None
        }
        _ => {
            let options: Vec<String> = matches
                .iter()
                .map(|&i| format!("{}/{name}", zones[i as usize].0))
                .collect();
            ck.report(
                at,
                format!(
                    "zone `{name}` exists in several regions; write {}",
                    one_of(&options)
                ),
                None,
            );
            None
        }
    }
}

/// The hosts a place name stands for: a region, a zone (`a` or `eu-west/a`), a rack
/// (`eu-west/a/r0`) or a host (`eu-west/a/r0/h3`); `None` after reporting an unknown name.
pub(super) fn place_hosts(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    name: &str,
) -> Option<Vec<u32>> {
    let regions = &spec.topology.regions;
    if let Some(r) = regions.iter().position(|r| r.name == name) {
        return Some(
            (0..hosts.len() as u32)
                .filter(|&h| hosts[h as usize].region_idx == r as u32)
                .collect(),
        );
    }
    let (zone_matches, known) = zones_named(regions, name);
    if zone_matches.len() == 1 {
        let z = zone_matches[0];
        return Some(
            (0..hosts.len() as u32)
                .filter(|&h| hosts[h as usize].zone_idx == z)
                .collect(),
        );
    }
    if zone_matches.len() > 1 {
        ck.report(
            at,
            format!("zone `{name}` exists in several regions; write it as `region/{name}`"),
            None,
        );
        return None;
    }
    // Racks and hosts by their full names.
    let rack_hosts: Vec<u32> = (0..hosts.len() as u32)
        .filter(|&h| {
            let n = &hosts[h as usize].name;
            n.rsplit_once('/').is_some_and(|(rack, _)| rack == name)
        })
        .collect();
    if !rack_hosts.is_empty() {
        return Some(rack_hosts);
    }
    if let Some(h) = hosts.iter().position(|h| h.name == name) {
        return Some(vec![h as u32]);
    }
    let host_names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let mut all: Vec<&str> = known.iter().map(String::as_str).collect();
    all.extend(host_names);
    let suggestion = closest(name, all.iter().copied());
    ck.report(
        at,
        format!("unknown place `{name}`; name a region, a zone (`region/zone`), a rack (`region/zone/r0`) or a host (`region/zone/r0/h0`)"),
        suggestion,
    );
    None
}

/// The indices of the zones `name` names (`zone` alone, or `region/zone`), and the names of every
/// region and zone.
fn zones_named(regions: &[Region], name: &str) -> (Vec<u32>, Vec<String>) {
    let mut zone_idx = 0u32;
    let mut zone_matches = Vec::new();
    let mut known: Vec<String> = regions.iter().map(|r| r.name.clone()).collect();
    for r in regions {
        for z in &r.zones {
            let full = format!("{}/{}", r.name, z.name);
            if z.name == name || full == name {
                zone_matches.push(zone_idx);
            }
            known.push(full);
            zone_idx += 1;
        }
    }
    (zone_matches, known)
}

/// The hosts of every place in `names`, each once, in order.
pub(super) fn places(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    names: &[String],
) -> Vec<u32> {
    if names.is_empty() {
        ck.report(at, "name at least one place".into(), None);
    }
    let mut out: Vec<u32> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| place_hosts(ck, spec, hosts, &at.index(i), n))
        .flatten()
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
