//! The bodies of the fuzz targets, shared by the cargo-fuzz targets in `fuzz_targets/` and by the
//! stable-toolchain driver `examples/fuzz_loaders.rs` at the repository root (which includes this
//! file with `#[path]`), so that both run exactly the same code on an input.

/// Only scenarios of at most 10 simulated seconds are run.
pub const HORIZON_MAX_NS: u64 = 10_000_000_000;
/// Guards clamped for the fuzzer, so that a heavy load cannot make one input run for minutes;
/// hitting a guard is a normal, reported end of a run.
pub const EVENTS_MAX: u64 = 200_000;
pub const IN_FLIGHT_MAX: u32 = 10_000;
/// The default `limits.series_points_max`; a file may raise it, the fuzzer does not follow.
pub const BUCKETS_MAX: usize = 100_000;

/// Any text given to the scenario loader must load or be refused with an error: never a panic,
/// a hang or an unbounded allocation. A scenario that loads and is short is also run once, with
/// at most `events_max` events.
pub fn load_scenario(data: &[u8], events_max: u64) {
    let text = String::from_utf8_lossy(data);
    let Ok(mut world) = models::load_str("fuzz.ron", &text) else {
        return;
    };
    if world.horizon.as_ns() > HORIZON_MAX_NS || world.n_buckets() > BUCKETS_MAX {
        return;
    }
    world.events_max = world.events_max.min(events_max);
    world.requests_in_flight_max = world.requests_in_flight_max.min(IN_FLIGHT_MAX);
    let _ = models::run_world(&world, 1, 0);
}

/// Any text given to the study loader (base scenario, variants patched into the text by
/// `models::patch`, grid sweeps, `expect` checks; JSON scenarios through their conversion) must load or be refused with an error: never a
/// panic, a hang or an unbounded allocation.
pub fn load_variants(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Text that starts with `{` is read as a JSON scenario, as standard input is.
    if models::format::json::looks_like_json(&text) {
        if let Ok(ron) = models::format::json::to_ron("fuzz.json", &text) {
            let _ = models::variants::load_study("fuzz.json", &ron);
        }
        return;
    }
    let _ = models::variants::load_study("fuzz.ron", &text);
}
