//! Faultline against desque and simcore, side by side, on the thread's CPU clock.
//!
//! Each round runs every contender of every workload once, for `BUDGET_MS` of CPU time each,
//! contenders interleaved (their order rotated every round); a contender's figure for the round
//! is units done / CPU time. Ratios are to the raw heap of the same workload in the same round.
//!
//! `ROUNDS=7 BUDGET_MS=1000 ./target/release/peers` (defaults). Raw rounds go to `raw.tsv`.

// Faultline's own hand-coded M/M/1 (`benches/hand/`), for its variant that keeps a file's books.
#[allow(dead_code)] // the plain queues are `mmc`'s
#[path = "../../hand/mod.rs"]
mod hand;
mod hold;
mod mmc;

use std::hint::black_box;
use std::io::Write;
use std::path::Path;

fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One call does some work and says how many units (events or customers) it did.
type Work = Box<dyn FnMut() -> u64>;

struct Contender {
    name: &'static str,
    work: Work,
}

struct Group {
    name: String,
    unit: &'static str,
    contenders: Vec<Contender>,
}

/// Runs `work` until `budget_ns` of this thread's CPU time has passed: units per CPU second.
fn measure(work: &mut Work, budget_ns: u64) -> f64 {
    let t0 = cpu_ns();
    let mut units = 0u64;
    loop {
        units += black_box(work());
        let dt = cpu_ns() - t0;
        if dt >= budget_ns {
            return units as f64 / (dt as f64 * 1e-9);
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn minmax(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)))
}

fn hold_group(n: usize, ring: &[u64]) -> Group {
    use hold::*;
    let (mut a, mut b, mut c, mut d, mut e) = (
        PlainHold::new(n, ring),
        QueueHold::new(n, ring),
        SimHold::new(n, ring),
        DesqueHold::new(n, ring),
        SimcoreHold::new(n, ring),
    );
    Group {
        name: format!("hold, {n} pending"),
        unit: "events/s",
        contenders: vec![
            Contender {
                name: "raw heap",
                work: Box::new(move || {
                    black_box(a.steps(BATCH));
                    BATCH
                }),
            },
            Contender {
                name: "faultline sim_core::run",
                work: Box::new(move || {
                    black_box(c.steps(BATCH));
                    BATCH
                }),
            },
            Contender {
                name: "faultline EventQueue",
                work: Box::new(move || {
                    black_box(b.steps(BATCH));
                    BATCH
                }),
            },
            Contender {
                name: "desque",
                work: Box::new(move || {
                    black_box(d.steps(BATCH));
                    BATCH
                }),
            },
            Contender {
                name: "simcore",
                work: Box::new(move || {
                    black_box(e.steps(BATCH));
                    BATCH
                }),
            },
        ],
    }
}

fn mmc_group(label: &str, file: &str, servers: u32, rate: f64) -> Group {
    let world = models::load_file(Path::new(file)).expect("scenario loads");
    let probe = mmc::run_file(&world);
    let n_file = mmc::customers(&probe);
    let p = mmc::Mmc {
        servers,
        rate_per_s: rate,
        work_mean_ns: 10e6,
        horizon_ns: world.horizon.as_ns(),
        seed: 1,
    };
    let heap = mmc::on_heap(&p);
    let (core, dq, sc) = (
        mmc::on_sim_core(&p),
        mmc::on_desque(&p),
        mmc::on_simcore(&p),
    );
    eprintln!(
        "{label}: file {n_file} customers, {} events ({:.2}/customer), digest {}; hand-coded {heap:?}",
        probe.events,
        probe.events as f64 / n_file as f64,
        probe.digest
    );
    assert_eq!(heap, core, "sim_core runs the same queue");
    assert_eq!(heap, dq, "desque runs the same queue");
    assert_eq!(heap, sc, "simcore runs the same queue");
    let ratio = heap.arrived as f64 / n_file as f64;
    assert!((0.97..1.03).contains(&ratio), "the same load as the file");
    let mut group = Group {
        name: label.to_string(),
        unit: "customers/s",
        contenders: vec![
            Contender {
                name: "raw heap",
                work: Box::new(move || black_box(mmc::on_heap(black_box(&p))).arrived),
            },
            Contender {
                name: "faultline file (models)",
                work: Box::new(move || mmc::customers(&black_box(mmc::run_file(&world)))),
            },
            Contender {
                name: "faultline sim_core hand",
                work: Box::new(move || black_box(mmc::on_sim_core(black_box(&p))).arrived),
            },
            Contender {
                name: "desque hand",
                work: Box::new(move || black_box(mmc::on_desque(black_box(&p))).arrived),
            },
            Contender {
                name: "simcore hand",
                work: Box::new(move || black_box(mmc::on_simcore(black_box(&p))).arrived),
            },
        ],
    };
    if servers == 1 {
        // The same queue on sim_core keeping what the file's report needs: the file's floor.
        let h = hand::Mm1 {
            rate_per_s: rate,
            work_mean_ns: 10e6,
            horizon_ns: p.horizon_ns,
            seed: 1,
        };
        assert_eq!(hand::on_sim_core_measured(&h).0.arrived, heap.arrived);
        group.contenders.push(Contender {
            name: "faultline sim_core hand + books",
            work: Box::new(move || {
                black_box(hand::on_sim_core_measured(black_box(&h)))
                    .0
                    .arrived
            }),
        });
    }
    group
}

fn main() {
    let rounds = env_u64("ROUNDS", 7) as usize;
    let budget_ns = env_u64("BUDGET_MS", 1000) * 1_000_000;
    let only = std::env::var("WORKLOADS").unwrap_or_default();
    // The repository root: this crate lives in `benches/peers/`.
    let main = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    eprintln!("load average at start: {}", loadavg());

    let ring = hold::draw_delays();
    let mut groups = vec![
        hold_group(1_000, &ring),
        hold_group(100_000, &ring),
        mmc_group(
            "M/M/1 rho 0.9 (benches/data/mm1-rho90.ron)",
            &format!("{main}/benches/data/mm1-rho90.ron"),
            1,
            90.0,
        ),
        mmc_group(
            "M/M/4 rho 0.9 (scenarios/queueing/mm4-rho90.ron)",
            &format!("{main}/scenarios/queueing/mm4-rho90.ron"),
            4,
            360.0,
        ),
    ];
    if !only.is_empty() {
        groups.retain(|g| only.split(',').any(|w| g.name.contains(w)));
    }

    // Warm-up: every contender once (fills the hold queues' steady state, the caches, the allocator).
    for g in &mut groups {
        for c in &mut g.contenders {
            measure(&mut c.work, budget_ns / 3);
        }
    }

    // rates[g][c][round]
    let mut rates: Vec<Vec<Vec<f64>>> = groups
        .iter()
        .map(|g| vec![Vec::new(); g.contenders.len()])
        .collect();
    for r in 0..rounds {
        for (gi, g) in groups.iter_mut().enumerate() {
            let k = g.contenders.len();
            for j in 0..k {
                let ci = (j + r) % k;
                let x = measure(&mut g.contenders[ci].work, budget_ns);
                rates[gi][ci].push(x);
            }
        }
        eprintln!("round {} done, load average {}", r + 1, loadavg());
    }

    let mut raw = std::fs::File::create(std::env::var("RAW").unwrap_or("raw.tsv".into())).unwrap();
    writeln!(raw, "workload\tcontender\tround\trate\tratio_to_heap").unwrap();
    println!(
        "{rounds} rounds, {} ms CPU per contender per round; load average at end {}\n",
        budget_ns / 1_000_000,
        loadavg()
    );
    for (gi, g) in groups.iter().enumerate() {
        println!("### {} ({})\n", g.name, g.unit);
        println!("| contender | median | range | / raw heap, median (range) per round |");
        println!("|---|---|---|---|");
        let heap = &rates[gi][0];
        for (ci, c) in g.contenders.iter().enumerate() {
            let v = &rates[gi][ci];
            let ratios: Vec<f64> = v.iter().zip(heap).map(|(x, h)| x / h).collect();
            for (r, (x, q)) in v.iter().zip(&ratios).enumerate() {
                writeln!(raw, "{}\t{}\t{}\t{:.0}\t{:.4}", g.name, c.name, r + 1, x, q).unwrap();
            }
            let (lo, hi) = minmax(v);
            let (qlo, qhi) = minmax(&ratios);
            println!(
                "| {} | {:.2} M | {:.2}–{:.2} M | {:.0}% ({:.0}–{:.0}%) |",
                c.name,
                median(v) / 1e6,
                lo / 1e6,
                hi / 1e6,
                100.0 * median(&ratios),
                100.0 * qlo,
                100.0 * qhi
            );
        }
        println!();
    }
}
