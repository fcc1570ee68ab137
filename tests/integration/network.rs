//! Networks and disks as resources: a link against processor sharing (M/M/1-PS and, by
//! insensitivity, M/D/1-PS), a disk against M/D/1 and M/M/1, exact rebuild times with and without
//! a rate limit, the bytes' ledger, links that go down under flows, packet loss repaired by
//! retransmission, and links and disks folded across a sweep. Max-min shares on hand-built
//! topologies (two flows on a link, the parking lot) are unit tests of `models/src/sim/net.rs`.

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
    // A host's NIC down: no route around it, and its messages are lost, not held.
    let path = repo_path("tests/data/link-down.ron");
    let r = faultline::run_variant(&path, Some("nic"), None, 0).unwrap();
    let client = &r.services[0].ledger;
    assert_eq!((client.failed, client.completed), (100, 399));
}

/// A 1 GB transfer whose zone link goes down under it: its chunks move to the route through
/// the third zone with the bytes they have left (250 MB crossed a-b in the first 2 s), and wait
/// on their path while no route is left (2 s): done at 10 s instead of 8. When the direct link
/// is back first, the waiting chunks take it; a transfer that starts with no route waits for one.
#[test]
fn flows_on_a_link_that_goes_down_move_to_a_route_around_it_or_wait() {
    let path = repo_path("tests/data/link-down-reroute.ron");
    let cases = [
        ("detour-back", [250, 750, 750], 10),
        ("direct-back", [750, 250, 250], 10),
        ("late-start", [0, 1000, 1000], 14),
    ];
    for (variant, mb, done_s) in cases {
        let r = faultline::run_variant(&path, Some(variant), None, 0).unwrap();
        let net = r.network.as_ref().unwrap();
        let bulk = |name: &str| {
            (net.links.iter())
                .find(|l| l.name == name)
                .map_or(0, |l| l.bytes.bulk)
        };
        let links = ["dc/a -> dc/b", "dc/a -> dc/c", "dc/c -> dc/b"];
        let moved: Vec<u64> = links.iter().map(|l| bulk(l)).collect();
        let want: Vec<u64> = mb.iter().map(|m| m * 1_000_000).collect();
        assert_eq!(moved, want, "{variant}");
        let copy = &net.transfers[0];
        assert_eq!(copy.moved_bytes, 1_000_000_000);
        // Each change of rate rounds the next completion up to a whole nanosecond.
        let done = copy.done_ns.unwrap();
        let want = done_s * 1_000_000_000;
        assert!((want..want + 10).contains(&done), "{variant}: {done}");
    }
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

/// A sweep of two runs of each variant of `rebuild-exact`, folded as `compare` folds it: the
/// rebuild carries 1 GB over each of two 1 Gbps links in a 60 s run, a utilization of
/// 8 / 60 on both (ties by name); at full speed it fills them for 8 s (buckets 20 s to 27 s at
/// 100%), at 50 MB/s it takes 40% of them for 20 s. The runs agree, so the intervals are points.
#[test]
fn a_sweep_folds_links_across_runs_exactly() {
    let path = repo_path("tests/data/rebuild-exact.ron");
    let study = faultline::load_study(&path).unwrap();
    let opts = faultline::SweepOptions {
        runs: Some(2),
        jobs: Some(2),
        ..Default::default()
    };
    let (summary, agg) = faultline::study_summary(&study, &opts, &|| {}).unwrap();
    for (v, (variant, peak, busy)) in [("full-speed", 1.0, 20..28), ("rate-limited", 0.4, 20..40)]
        .into_iter()
        .enumerate()
    {
        let s = &summary.variants[v];
        assert_eq!(s.name, variant);
        let net = s.network.as_ref().expect("a variant with capacities");
        assert_eq!((net.runs, net.links_used, net.disks_used), (2, 2, 0));
        let names: Vec<&str> = net.links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["dc/a/r0/h0 out", "dc/a/r0/h1 in"]);
        for l in &net.links {
            let u = l.utilization;
            assert!((u.mean - 8.0 / 60.0).abs() < 1e-9, "{variant}: {u:?}");
            assert_eq!((u.ci_low, u.ci_high), (u.mean, u.mean), "{variant}");
            assert_eq!((l.bytes.recovery, l.bytes.user), (1e9, 0.0));
            assert_eq!(l.utilization_series.len(), 60);
            for (b, &x) in l.utilization_series.iter().enumerate() {
                let want = if busy.contains(&b) { peak } else { 0.0 };
                assert!((x - want).abs() < 1e-9, "{variant} bucket {b}: {x}");
            }
            assert!((l.peak_mean - peak).abs() < 1e-9 && (l.peak_max - peak).abs() < 1e-9);
        }
        let sent: Vec<(&str, f64)> = (net.sent_bytes.iter())
            .map(|c| (c.class.as_str(), c.bytes.mean))
            .collect();
        assert_eq!(
            sent,
            [
                ("user", 0.0),
                ("replication", 0.0),
                ("recovery", 1e9),
                ("bulk", 0.0)
            ]
        );
        // The aggregate's series are the mean series the summary shows.
        let sums = agg.variants[v].network.as_ref().unwrap();
        assert_eq!(
            sums.link_series("dc/a/r0/h0 out"),
            net.links[0].utilization_series
        );
    }
}

/// The aggregate of a sweep of `remirror-storm`'s storm is the mean of its runs' own results:
/// every link's and disk's utilization, a disk's queue, bytes by class, the series.
#[test]
fn the_aggregate_of_links_and_disks_is_the_mean_of_the_runs() {
    let path = repo_path("scenarios/network/remirror-storm.ron");
    let loaded = faultline::load_study(&path).unwrap();
    let design = &loaded.study.designs[0];
    let world = &design.world;
    let n = 3;
    let results: Vec<RunResult> = (0..n)
        .into_par_iter()
        .map(|run| models::run_world(world, world.seed, run).expect("run succeeds"))
        .collect();
    let mut sums = reports::network::NetworkSums::default();
    // Folded in reverse: the order runs finish in does not matter.
    for r in results.iter().rev() {
        sums.add(r.network.as_ref().unwrap());
    }
    let s = sums.summary().unwrap();
    let nets: Vec<&models::results::NetworkResult> = results
        .iter()
        .map(|r| r.network.as_ref().unwrap())
        .collect();
    let mean = |f: &dyn Fn(&models::results::NetworkResult) -> f64| {
        nets.iter().map(|x| f(x)).sum::<f64>() / n as f64
    };
    let used: std::collections::BTreeSet<&str> = (nets.iter())
        .flat_map(|x| x.links.iter().map(|l| l.name.as_str()))
        .collect();
    assert_eq!(s.links_used, used.len());
    for l in &s.links {
        let of = |x: &models::results::NetworkResult| {
            (x.links.iter().find(|k| k.name == l.name)).map_or(0.0, |k| k.utilization)
        };
        assert!((l.utilization.mean - mean(&of)).abs() < 1e-9, "{}", l.name);
        let at = |x: &models::results::NetworkResult| {
            let k = x.links.iter().find(|k| k.name == l.name);
            k.and_then(|k| k.utilization_series.get(30).copied())
                .unwrap_or(0.0)
        };
        assert!(
            (l.utilization_series[30] - mean(&at)).abs() < 1e-9,
            "{}",
            l.name
        );
    }
    assert_eq!(s.disks.len(), 2);
    for d in &s.disks {
        let disk = |x: &models::results::NetworkResult| {
            x.disks.iter().find(|k| k.host == d.host).unwrap().clone()
        };
        assert!((d.utilization.mean - mean(&|x| disk(x).utilization)).abs() < 1e-9);
        assert!((d.queue_mean.mean - mean(&|x| disk(x).queue_mean)).abs() < 1e-9);
        let values: Vec<f64> = nets.iter().map(|x| disk(x).queue_mean).collect();
        let e = reports::stats::estimate(&values).unwrap();
        assert!(
            (d.queue_mean.ci_high - e.high()).abs() < 1e-6,
            "{d:?} {e:?}"
        );
        let q_max = nets.iter().map(|x| disk(x).queue_max).max().unwrap();
        assert_eq!(d.queue_max, q_max);
    }
    let recovery = mean(&|x| x.sent.recovery as f64);
    assert_eq!(s.sent_bytes[2].class, "recovery");
    assert!((s.sent_bytes[2].bytes.mean - recovery).abs() < 1e-3);
    assert!(recovery >= 20e9, "four 5 GB mirrors rebuilt: {recovery}");
}
