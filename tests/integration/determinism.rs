//! Determinism is the product: the same scenario and seed give the same digest and the same bytes.

use crate::{load, repo_path};

#[test]
fn same_seed_same_digest_and_bytes() {
    let world = load("scenarios/quickstart.ron");
    let a = models::run_world(&world, 42, 0).unwrap();
    let b = models::run_world(&world, 42, 0).unwrap();
    assert_eq!(a.digest, b.digest);
    assert_eq!(reports::run_json(&a), reports::run_json(&b));
    assert_eq!(a, b);
}

#[test]
fn different_seeds_and_runs_differ() {
    let world = load("scenarios/quickstart.ron");
    let a = models::run_world(&world, 42, 0).unwrap();
    let b = models::run_world(&world, 43, 0).unwrap();
    let c = models::run_world(&world, 42, 1).unwrap();
    assert_ne!(a.digest, b.digest);
    assert_ne!(a.digest, c.digest);
    assert_ne!(b.digest, c.digest);
    assert_ne!(a.services[0].measured, b.services[0].measured);
}

#[test]
fn loading_twice_gives_the_same_world_and_run() {
    // Parsing and placement are deterministic too: two loads, one digest.
    let path = repo_path("scenarios/quickstart.ron");
    let w1 = faultline::load(&path).unwrap();
    let w2 = faultline::load(&path).unwrap();
    let hosts = |w: &faultline::World| w.instances.iter().map(|i| i.host_idx).collect::<Vec<_>>();
    assert_eq!(hosts(&w1), hosts(&w2));
    assert_eq!(
        faultline::run_world(&w1, None).unwrap().digest,
        faultline::run_world(&w2, None).unwrap().digest
    );
}

#[test]
fn every_catalog_scenario_runs_twice_alike() {
    if crate::skip_slow("every_catalog_scenario_runs_twice_alike") {
        return;
    }
    let mut files: Vec<_> = walk(&repo_path("scenarios"));
    files.sort();
    assert!(files.len() >= 7, "catalog has {} scenarios", files.len());
    for path in files {
        let world = faultline::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let a = faultline::run_world(&world, None).unwrap();
        let b = faultline::run_world(&world, None).unwrap();
        assert_eq!(
            a.digest,
            b.digest,
            "{} is not deterministic; replay with: faultline run {} --seed {}",
            path.display(),
            path.display(),
            world.seed
        );
        for s in &a.services {
            assert!(
                s.ledger.balanced() && s.measured.balanced(),
                "{}: ledger of {}",
                path.display(),
                s.name
            );
        }
    }
}

/// Every `.ron` file below `dir`, recursively.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "ron") {
            out.push(path);
        }
    }
    out
}

#[test]
fn placement_spreads_across_zones() {
    let world = load("scenarios/quickstart.ron");
    let fe = &world.services[world.service_idx("frontend").unwrap()];
    let zones: Vec<u32> = (0..fe.n_instances)
        .map(|k| {
            world.hosts[world.instances[(fe.first_instance + k) as usize].host_idx as usize]
                .zone_idx
        })
        .collect();
    assert_eq!(
        zones,
        vec![0, 1, 0, 1],
        "consecutive instances alternate zones"
    );
    let racks: Vec<u32> = (0..fe.n_instances)
        .map(|k| {
            world.hosts[world.instances[(fe.first_instance + k) as usize].host_idx as usize]
                .rack_idx
        })
        .collect();
    assert_eq!(
        racks,
        vec![0, 2, 1, 3],
        "and within a zone, alternate racks"
    );
    let db = &world.services[world.service_idx("db").unwrap()];
    assert_eq!(
        world.hosts[world.instances[db.first_instance as usize].host_idx as usize].name,
        "eu-west/a/r0/h0"
    );
}
