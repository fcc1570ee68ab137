//! Any text given to the study loader (base scenario, variants patched into the text by
//! `models::patch`, grid sweeps, `expect` checks) must load or be refused with an error: never a
//! panic, a hang or an unbounded allocation. The body is in `../bodies.rs`, shared with the
//! stable driver `examples/fuzz_loaders.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../bodies.rs"]
mod bodies;

fuzz_target!(|data: &[u8]| {
    bodies::load_variants(data);
});
