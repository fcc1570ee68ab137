//! Networks and disks as resources: a link against processor sharing (M/M/1-PS and, by
//! insensitivity, M/D/1-PS), a disk against M/D/1 and M/M/1, exact rebuild times with and without
//! a rate limit, the bytes' ledger, and packet loss repaired by retransmission. Max-min shares on hand-built topologies (two flows on a
//! link, the parking lot) are unit tests of `models/src/sim/net.rs`.

use crate::queueing::assert_agrees;
use crate::repo_path;
use models::results::RunResult;
use rayon::prelude::*;

const RUNS: u64 = 30;

/// `RUNS` runs of one variant of a scenario, in parallel.
fn runs(rel: &str, variant: &str) -> Vec<RunResult> {
    let loaded = faultline::load_study(&repo_path(rel)).unwrap();
    let design = loaded
        .study
        .designs
        .iter()
        .find(|d| d.name == variant)
        .unwrap_or_else(|| panic!("{rel} has no variant {variant}"));
    let world = &design.world;
    (0..RUNS)
        .into_par_iter()
        .map(|run| models::run_world(world, world.seed, run).expect("run succeeds"))
        .collect()
}

fn mean_ms(results: &[RunResult]) -> Vec<f64> {
    results
        .iter()
        .map(|r| r.workloads[0].latency.mean_ns / 1e6)
        .collect()
}

/// A 100 KB/s link at 70% load, messages of 1,000 bytes on average: max-min sharing makes it
/// processor sharing, whose mean time in system is E[S] / (1 - rho) = 33.3 ms for exponential
/// and constant sizes alike (FIFO would give M/D/1's 21.7 ms for the latter).
#[test]
fn a_link_alone_is_a_processor_sharing_queue() {
    let rel = "scenarios/network/link-queue.ron";
    let w = 10.0 / (1.0 - 0.7);
    for variant in ["exponential", "constant"] {
        let results = runs(rel, variant);
        assert_agrees(
            &format!("link {variant} W (ms)"),
            &mean_ms(&results),
            w,
            0.05,
        );
        // Little's law on the link: the mean number of flows is lambda W.
        let flows: Vec<f64> = results
            .iter()
            .map(|r| r.network.as_ref().unwrap().links[0].flows_mean)
            .collect();
        assert_agrees(&format!("link {variant} L"), &flows, 70.0 * w / 1e3, 0.05);
        let util: Vec<f64> = results
            .iter()
            .map(|r| r.network.as_ref().unwrap().links[0].utilization)
            .collect();
        assert_agrees(&format!("link {variant} utilization"), &util, 0.7, 0.02);
    }
}

/// A 1 MB/s disk at 80% load, one operation at a time, first come first served: reads of
/// 10 kB make it M/D/1 (W = 10 + 20 ms, Lq = 1.6), exponential sizes M/M/1 (W = 50 ms,
/// Lq = 3.2).
#[test]
fn a_disk_is_a_fifo_queue_md1_and_mm1() {
    let rel = "scenarios/network/disk-queue.ron";
    let (rho, s_ms) = (0.8, 10.0);
    let cases = [
        (
            "constant",
            s_ms + rho * s_ms / (2.0 * (1.0 - rho)),
            rho * rho / (2.0 * (1.0 - rho)),
        ),
        ("exponential", s_ms / (1.0 - rho), rho * rho / (1.0 - rho)),
    ];
    for (variant, w, lq) in cases {
        let results = runs(rel, variant);
        assert_agrees(
            &format!("disk {variant} W (ms)"),
            &mean_ms(&results),
            w,
            0.06,
        );
        let queue: Vec<f64> = results
            .iter()
            .map(|r| r.network.as_ref().unwrap().disks[0].queue_mean)
            .collect();
        assert_agrees(&format!("disk {variant} Lq"), &queue, lq, 0.1);
    }
}

/// 1 GB rebuilt over 1 Gbps NICs after a disk failure from 10 s to 20 s: 8 s at full speed, so
/// redundancy is reduced for 18 s; 20 s at a rate limit of 50 MB/s, 30 s in all. The bytes
/// moved are the data's, on the source's NIC out and the target's NIC in, as recovery.
#[test]
fn a_rebuild_takes_its_data_over_the_bottleneck_or_its_rate_limit() {
    let path = repo_path("tests/data/rebuild-exact.ron");
    for (variant, lost_s) in [("full-speed", 18.0), ("rate-limited", 30.0)] {
        let r = faultline::run_variant(&path, Some(variant), None, 0).unwrap();
        let store = r.services[1].store.as_ref().unwrap();
        assert_eq!((store.rebuilds, store.rebuilds_done), (1, 1), "{variant}");
        assert_eq!(store.rebuilt_bytes, 1_000_000_000);
        // Completion times are rounded up to whole nanoseconds.
        let lost = store.redundancy_lost_ns as f64 / 1e9;
        assert!(
            (lost - lost_s).abs() < 1e-6,
            "{variant}: {lost} s, not {lost_s}"
        );
        let net = r.network.as_ref().unwrap();
        let names: Vec<&str> = net.links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["dc/a/r0/h0 out", "dc/a/r0/h1 in"]);
        for l in &net.links {
            assert_eq!(l.bytes.recovery, 1_000_000_000, "{}", l.name);
        }
        assert_eq!(net.sent.recovery, net.delivered.recovery);
        let log: Vec<&str> = r
            .log
            .iter()
            .filter(|e| e.kind == "rebuild")
            .map(|e| e.what.as_str())
            .collect();
        assert_eq!(
            log,
            [
                "rebuild of db/1 from db/0",
                "db/1 rebuilt (1000000000 bytes)"
            ]
        );
    }
}

/// Every byte sent is delivered or still in flight, by class; with constant sizes the bytes
/// delivered are the messages that reached the sink times their size.
#[test]
fn bytes_on_the_network_are_conserved() {
    let path = repo_path("scenarios/network/link-queue.ron");
    let r = faultline::run_variant(&path, Some("constant"), None, 0).unwrap();
    let net = r.network.as_ref().unwrap();
    let reached = r.services[1].ledger.arrived;
    assert!(reached > 40_000, "{reached}");
    assert_eq!(net.delivered.user, reached * 1000);
    assert_eq!(net.in_flight.user % 1000, 0);
    assert_eq!(net.sent.user, net.delivered.user + net.in_flight.user);
    assert_eq!(net.sent.total(), net.sent.user);
}

/// A link at half its bandwidth and a link shared with background traffic: a 100 kB message a
/// second takes 100 ms on a 1 MB/s NIC, 200 ms at half of it, and 200 ms beside 1 MB/s of
/// background traffic (max-min gives each half). The background flow carries 1 MB/s alone
/// (10 MB over its 10 s on the NIC out) and loses half while a message shares it (9 MB in).
#[test]
fn a_degraded_or_congested_link_slows_messages_exactly() {
    let r =
        faultline::run_variant(&repo_path("tests/data/link-faults.ron"), None, None, 0).unwrap();
    let latency = &r.workloads[0].latency;
    assert_eq!(latency.count, 39);
    assert_eq!(latency.max_ns, 200_000_000);
    let expected = (20.0 * 200.0 + 19.0 * 100.0) / 39.0 * 1e6;
    assert!(
        (latency.mean_ns - expected).abs() < 1.0,
        "{}",
        latency.mean_ns
    );
    let net = r.network.as_ref().unwrap();
    let background = |name: &str| {
        let l = net.links.iter().find(|l| l.name == name).unwrap();
        l.bytes.background
    };
    assert_eq!(background("dc/b/r0/h0 out"), 10_000_000);
    assert_eq!(background("dc/b/r0/h0 in"), 9_000_000);
}

/// A zone link down: calls route around it through the third zone (200 calls of 100 kB from
/// 10 s to 30 s, 20 MB on each of its two links); with the detour's link down too, no route is
/// left and the 100 calls of 30 s to 40 s are lost (their callers time out).
#[test]
fn a_link_down_is_routed_around_or_its_messages_are_lost() {
    let r = faultline::run_variant(&repo_path("tests/data/link-down.ron"), None, None, 0).unwrap();
    let client = &r.services[0].ledger;
    assert_eq!((client.failed, client.completed), (100, 399));
    let net = r.network.as_ref().unwrap();
    let user = |name: &str| {
        let l = net.links.iter().find(|l| l.name == name).unwrap();
        l.bytes.user
    };
    assert_eq!(user("dc/a -> dc/c"), 20_000_000);
    assert_eq!(user("dc/c -> dc/b"), 20_000_000);
    assert_eq!(user("dc/a -> dc/b"), 19_900_000);
}

/// A 1 GB transfer whose zone link goes down under it: its chunks move to the route through
/// the third zone with the bytes they have left (250 MB crossed a-b in the first 2 s), and wait
/// on their path while no route is left (2 s): done at 10 s instead of 8.
#[test]
fn flows_on_a_link_that_goes_down_move_to_a_route_around_it_or_wait() {
    let path = repo_path("tests/data/link-down-reroute.ron");
    let r = faultline::run_variant(&path, None, None, 0).unwrap();
    let net = r.network.as_ref().unwrap();
    let bulk = |name: &str| {
        let l = net.links.iter().find(|l| l.name == name).unwrap();
        l.bytes.bulk
    };
    assert_eq!(bulk("dc/a -> dc/b"), 250_000_000);
    assert_eq!(bulk("dc/a -> dc/c"), 750_000_000);
    assert_eq!(bulk("dc/c -> dc/b"), 750_000_000);
    let copy = &net.transfers[0];
    assert_eq!(copy.moved_bytes, 1_000_000_000);
    // Each change of rate rounds the next completion up to a whole nanosecond.
    let done = copy.done_ns.unwrap();
    assert!((10_000_000_000..10_000_000_010).contains(&done), "{done}");
}

/// Rounds of retransmission of a message of `packets` packets each lost at `p`, on average:
/// it needs `r` rounds or more when one of its packets is lost `r` times in a row, so
/// E[R] = sum over r >= 1 of 1 - (1 - p^r)^packets.
fn mean_rounds(packets: i32, p: f64) -> f64 {
    (1..60).map(|r| 1.0 - (1.0 - p.powi(r)).powi(packets)).sum()
}

/// 1% packet loss repaired after 200 ms: a request of one packet and an answer of 180
/// (256 KiB) or 2 (2 KiB) wait 200 ms per round, on top of the 3 ms of work (no queueing).
#[test]
fn packet_loss_delays_messages_by_their_rounds_of_retransmission() {
    let rel = "scenarios/network/lossy-link.ron";
    for (variant, packets, precision) in [("large", 180, 0.01), ("small", 2, 0.05)] {
        let rounds = mean_rounds(1, 0.01) + mean_rounds(packets, 0.01);
        let w = 3.0 + 200.0 * rounds;
        assert_agrees(
            &format!("lossy {variant} W (ms)"),
            &mean_ms(&runs(rel, variant)),
            w,
            precision,
        );
    }
    // One packet: a geometric number of rounds, p / (1 - p).
    assert!((mean_rounds(1, 0.01) - 0.01 / 0.99).abs() < 1e-12);
}
