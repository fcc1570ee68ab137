//! Any text given to the study loader (base scenario, variants patched into the text by
//! `models::patch`, grid sweeps, `expect` checks) must load or be refused with an error: never a
//! panic, a hang or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = models::variants::load_study("fuzz.ron", &text);
});
