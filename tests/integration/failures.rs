//! Faults, recovery and data: the fault schedule is the same in every variant, stochastic
//! failures reproduce the steady-state availability of `../shared/reference/availability.md`,
//! a partition cuts exactly the traffic it names, and the data ledger is exact on a hand-built
//! case.

use crate::{load, repo_path};
use models::results::RunResult;
use rayon::prelude::*;
use reports::stats::Estimate;

fn binomial_availability(k: u32, n: u32, p: f64) -> f64 {
    let choose = |n: u32, i: u32| -> f64 {
        (0..i).fold(1.0, |c, j| c * f64::from(n - j) / f64::from(j + 1))
    };
    (k..=n)
        .map(|i| choose(n, i) * p.powi(i as i32) * (1.0 - p).powi((n - i) as i32))
        .sum()
}

/// Availability of k of n repairable replicas: the fraction of time at least k instances are up,
/// per run, over 40 runs of a million hours; the reference value must lie in the 99.9% interval,
/// and the interval must be narrow enough to mean something.
#[test]
fn k_of_n_availability_matches_the_reference() {
    let base = load("tests/data/availability-k-of-n.ron");
    let p = 1000.0 / 1010.0;
    // (k, n, the reference table's value, precision demanded of the unavailability).
    for (k, n, table, precision) in [
        (1u32, 1u32, 0.990099, 0.05),
        (1, 2, 0.999902, 0.5),
        (2, 2, 0.980296, 0.05),
    ] {
        let analytic = binomial_availability(k, n, p);
        assert!(
            (analytic - table).abs() < 1e-6,
            "formula {analytic} vs table {table}"
        );
        let mut spec = base.spec.clone();
        spec.services[0].instances = n;
        let world = models::validate::build("availability", None, spec).expect("valid");
        let values: Vec<f64> = (0..40u64)
            .into_par_iter()
            .map(|run| {
                let r = models::run_world(&world, world.seed, run).expect("run succeeds");
                r.services[0].up_at_least(k as usize)
            })
            .collect();
        let e = Estimate::of(&values, 0.999);
        println!(
            "{k} of {n}: analytic {analytic:.6}, simulated {:.6} ± {:.6} (99.9% CI, {} runs)",
            e.mean, e.half_width, e.n
        );
        assert!(
            e.contains(analytic),
            "{k} of {n}: {analytic} outside [{}, {}]",
            e.low(),
            e.high()
        );
        assert!(
            e.half_width <= precision * (1.0 - analytic),
            "{k} of {n}: interval ±{} too wide for an unavailability of {}",
            e.half_width,
            1.0 - analytic
        );
    }
}

/// Correlated failures: two replicas on one rack that loses power lower availability below the
/// independent value, which is the point of modelling placement.
#[test]
fn a_shared_rack_lowers_availability() {
    let base = load("tests/data/availability-k-of-n.ron");
    let mut spec = base.spec.clone();
    spec.faults.push(models::spec::FaultSpec {
        at: models::spec::Dur(sim_core::SimDuration::ZERO),
        lasts: None,
        what: models::spec::FaultKind::RackPower {
            rack: "local/a/r0".into(),
        },
        mtbf: Some(models::spec::DistSpec::Exponential {
            mean: models::spec::Dur(sim_core::SimDuration::from_hours(2000)),
        }),
        mttr: Some(models::spec::DistSpec::Exponential {
            mean: models::spec::Dur(sim_core::SimDuration::from_hours(10)),
        }),
    });
    let world = models::validate::build("rack", None, spec).expect("valid");
    let values: Vec<f64> = (0..20u64)
        .into_par_iter()
        .map(|run| models::run_world(&world, 1, run).unwrap().services[0].up_at_least(1))
        .collect();
    let e = Estimate::of(&values, 0.999);
    let independent = binomial_availability(1, 2, 1000.0 / 1010.0);
    println!("1 of 2 on one rack: {:.6} ± {:.6}", e.mean, e.half_width);
    assert!(
        e.high() < independent,
        "{} not below {independent}",
        e.high()
    );
}

/// Every variant of a scenario sees the same faults at the same times, stochastic ones included.
#[test]
fn the_fault_schedule_is_the_same_in_every_variant() {
    let study =
        models::variants::load_study_file(&repo_path("scenarios/failures/chaos-monkey.ron"))
            .expect("loads");
    assert!(study.designs.len() >= 2);
    let schedule = |r: &RunResult| -> Vec<(String, u64)> {
        r.log
            .iter()
            .filter(|l| l.kind == "fault_start")
            .map(|l| (l.what.clone(), l.t_ns))
            .collect()
    };
    for run in 0..3 {
        let first = models::run_world(&study.designs[0].world, 7, run).unwrap();
        let kills = schedule(&first);
        assert!(kills.len() >= 5, "a monkey that kills: {kills:?}");
        for d in &study.designs[1..] {
            let other = models::run_world(&d.world, 7, run).unwrap();
            assert_eq!(schedule(&other), kills, "variant `{}`", d.name);
        }
    }
}

/// A partition between zones a and b cuts exactly the calls from a to b, for exactly its window.
#[test]
fn a_partition_cuts_exactly_the_traffic_it_names() {
    let world = load("tests/data/partition.ron");
    let r = models::run_world(&world, 1, 0).unwrap();
    let (near, far) = (&r.edges[0], &r.edges[1]);
    assert_eq!(near.to, "near");
    // 100 calls a second; the partition holds for 10 s: 1000 calls never arrive and time out.
    assert_eq!(near.timeouts, 1000, "{near:?}");
    assert_eq!(far.timeouts, 0, "{far:?}");
    assert_eq!(far.ok, far.calls);
    let arrived = |name: &str| {
        r.services
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .ledger
            .arrived
    };
    assert_eq!(arrived("near") + 1000, arrived("far"));
    // One way (replies from b to a lost, requests through): near serves them, callers still wait.
    let mut spec = world.spec.clone();
    spec.faults[0].what = models::spec::FaultKind::Partition {
        between: vec!["b".into()],
        and: vec!["a".into()],
        one_way: true,
    };
    let world = models::validate::build("one-way", None, spec).unwrap();
    let r = models::run_world(&world, 1, 0).unwrap();
    assert_eq!(r.edges[0].timeouts, 1000);
    let near = r.services.iter().find(|s| s.name == "near").unwrap();
    let far = r.services.iter().find(|s| s.name == "far").unwrap();
    assert_eq!(near.ledger.arrived, far.ledger.arrived);
    assert_eq!(
        near.ledger.completed,
        near.ledger.arrived - near.ledger.in_flight
    );
}

/// The data ledger on a case computed by hand: writes stored at 9.901 s .. 9.991 s had not left
/// the primary (100 ms of lag) when it died at 10 s: exactly 10 acknowledged writes are lost.
/// Writes are unavailable from the crash to the promotion, 5 + 2 s later.
#[test]
fn the_data_ledger_is_exact_on_a_hand_built_case() {
    let world = load("tests/data/lost-writes.ron");
    let r = models::run_world(&world, 1, 0).unwrap();
    let store = r.services[1].store.clone().expect("a datastore");
    assert_eq!(store.lost_writes, 10, "{store:?}");
    assert_eq!(store.failovers, 1);
    assert_eq!(store.write_unavailable_ns, 7_000_000_000);
    // No lag: the replicas have every write the instant it is stored.
    let mut spec = world.spec.clone();
    spec.services[1].datastore.as_mut().unwrap().lag = models::spec::DistSpec::default();
    let r = models::run_world(
        &models::validate::build("no-lag", None, spec.clone()).unwrap(),
        1,
        0,
    )
    .unwrap();
    assert_eq!(r.services[1].store.as_ref().unwrap().lost_writes, 0);
    // Synchronous: none lost, with the lag or without.
    spec.services[1].datastore.as_mut().unwrap().replication = models::spec::Replication::Sync;
    let r = models::run_world(&models::validate::build("sync", None, spec).unwrap(), 1, 0).unwrap();
    let store = r.services[1].store.clone().unwrap();
    assert_eq!(store.lost_writes, 0);
    // Acknowledged: one write per 10 ms, except during the 7 s without a primary.
    assert_eq!(store.writes_acked, 3999 - 700, "{store:?}");
}
