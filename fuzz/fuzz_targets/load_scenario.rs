//! Any text given to the scenario loader must load or be refused with an error: never a panic,
//! a hang or an unbounded allocation. A scenario that loads and is short is also run once.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Only scenarios of at most 10 simulated seconds are run.
const HORIZON_MAX_NS: u64 = 10_000_000_000;
/// Guards clamped for the fuzzer, so that a heavy load cannot make one input run for minutes;
/// hitting a guard is a normal, reported end of a run.
const EVENTS_MAX: u64 = 200_000;
const IN_FLIGHT_MAX: u32 = 10_000;
/// The default `limits.series_points_max`; a file may raise it, the fuzzer does not follow.
const BUCKETS_MAX: usize = 100_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(mut world) = models::load_str("fuzz.ron", &text) else {
        return;
    };
    if world.horizon.as_ns() > HORIZON_MAX_NS || world.n_buckets() > BUCKETS_MAX {
        return;
    }
    world.events_max = world.events_max.min(EVENTS_MAX);
    world.requests_in_flight_max = world.requests_in_flight_max.min(IN_FLIGHT_MAX);
    let _ = models::run_world(&world, 1, 0);
});
