//! `World::memory_estimate_bytes` is an upper bound on what loading a scenario and one run of it
//! take: generated worlds (hosts, instances, services, datastores and their replicas, workloads
//! and users, defences, probes, faults, series) are loaded and run while a counting global
//! allocator keeps the peak of the bytes live, and each peak must be at most the world's
//! estimate. The worst ratio of peak to estimate is printed.
//!
//! A test binary of its own, apart from `tests/integration/`: the allocator counts every
//! allocation of the process, and the tests of one binary run on threads side by side.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

mod generate;

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, size) };
        if !q.is_null() {
            // The old and the new block are both live while realloc copies.
            let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(live, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one generated world took, against its estimate.
struct Measured {
    peak: usize,
    estimate: u64,
    text: String,
}

/// Loads `text` and runs it once, returning the peak of the bytes live above what was live
/// before, and the world's estimate.
fn measure(text: &str) -> Measured {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let world = models::load_str("generated.ron", text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let estimate = world.memory_estimate_bytes();
    let result = models::run_world(&world, 7, 0).unwrap_or_else(|e| panic!("{e}\n{text}"));
    drop(result);
    drop(world);
    Measured {
        peak: PEAK.load(Ordering::Relaxed) - before,
        estimate,
        text: text.to_string(),
    }
}

/// The tests of this binary run one at a time: another thread's allocations would count.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn peak_memory_is_within_the_estimate() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let quick = std::env::var_os("FAULTLINE_QUICK").is_some();
    let cases = if quick { 24 } else { 120 };
    if let Some(case) = std::env::var("MEMORY_CASE")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        // One case, printed: `MEMORY_CASE=46 cargo test --release --test memory -- --nocapture`.
        let text = generate::scenario(case);
        println!("{text}");
        let m = measure(&text);
        println!("peak {} bytes, estimate {} bytes", m.peak, m.estimate);
        return;
    }
    let mut worst: Option<(f64, Measured)> = None;
    let mut over = Vec::new();
    for case in 0..cases {
        let text = generate::scenario(case);
        eprintln!("case {case}");
        let m = measure(&text);
        let ratio = m.peak as f64 / m.estimate as f64;
        if m.peak as u64 > m.estimate {
            over.push(format!(
                "case {case}: peak {} bytes, estimate {} bytes ({ratio:.3})\n{}",
                m.peak, m.estimate, m.text
            ));
        }
        if worst.as_ref().is_none_or(|(r, _)| ratio > *r) {
            worst = Some((ratio, m));
        }
    }
    let (ratio, m) = worst.expect("at least one case");
    println!(
        "worst peak / estimate over {cases} generated worlds: {ratio:.3} ({} of {} bytes)",
        m.peak, m.estimate
    );
    assert!(
        over.is_empty(),
        "{} over the estimate:\n{}",
        over.len(),
        over.join("\n")
    );
}

/// The extremes one at a time, each far from the generated middle: a million hosts; a datastore
/// of 2,000 replicas taking writes; 20,000 instances with every probe; 200 services; a workload of
/// 100,000 users; 100,000 time-series points.
#[test]
fn extremes_are_within_the_estimate() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (what, text) in generate::extremes() {
        let m = measure(&text);
        println!(
            "{what}: peak {} bytes, estimate {} bytes ({:.3})",
            m.peak,
            m.estimate,
            m.peak as f64 / m.estimate as f64
        );
        assert!(
            m.peak as u64 <= m.estimate,
            "{what}: peak {} over the estimate {}\n{text}",
            m.peak,
            m.estimate
        );
    }
}
