//! Any text given to the scenario loader must load or be refused with an error: never a panic,
//! a hang or an unbounded allocation. A scenario that loads and is short is also run once.
//! The body is in `../bodies.rs`, shared with the stable driver `examples/fuzz_loaders.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../bodies.rs"]
mod bodies;

fuzz_target!(|data: &[u8]| {
    bodies::load_scenario(data, bodies::EVENTS_MAX);
});
