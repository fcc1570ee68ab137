//! A stable-toolchain fuzzer for the loaders: the bodies of the two cargo-fuzz targets
//! (`fuzz/bodies.rs`, included here as is) run over inputs made by mutating the catalog
//! (`scenarios/`), the property and regression data (`tests/data/`, `fuzz/regressions/`) and the
//! fuzz corpus (`fuzz/corpus/`) with a seeded RNG. cargo-fuzz needs libFuzzer and nightly flags;
//! this needs neither, and has no coverage feedback: every input is its own function of
//! (seed, index), so any finding is replayed by its index alone.
//!
//! ```sh
//! cargo build --release --example fuzz_loaders
//! nice -n 10 target/release/examples/fuzz_loaders --seed 1 --from 0 --count 1000000
//! target/release/examples/fuzz_loaders --seed 1 --from 4711 --count 1 --show   # replay one
//! ```
//!
//! Input `i` goes to `load_scenario` when `i` is even and to `load_variants` when it is odd. A
//! panic is caught (`catch_unwind`), its message and input saved under `target/fuzz-findings/`,
//! and counted; an input that takes over two seconds is saved as slow. The exit code is 1 when
//! anything was found.

#[path = "../fuzz/bodies.rs"]
mod bodies;

use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The `load_scenario` body runs a loaded world for at most this many events, as the cargo-fuzz
/// target does.
const EVENTS_MAX: u64 = bodies::EVENTS_MAX;
/// Inputs are cut to this many bytes.
const INPUT_LEN_MAX: usize = 65_536;
/// An input slower than this is saved as a finding.
const SLOW: Duration = Duration::from_secs(2);

/// The last panic's message and place, written by the panic hook.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// SplitMix64: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

struct Options {
    seed: u64,
    from: u64,
    count: u64,
    show: bool,
    root: PathBuf,
}

fn parse_args() -> Options {
    let mut options = Options {
        seed: 1,
        from: 0,
        count: 100_000,
        show: false,
        root: PathBuf::from("."),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--seed" => options.seed = value().parse().expect("--seed N"),
            "--from" => options.from = value().parse().expect("--from N"),
            "--count" => options.count = value().parse().expect("--count N"),
            "--root" => options.root = PathBuf::from(value()),
            "--show" => {
                options.show = true;
                i -= 1;
            }
            other => panic!("unknown argument `{other}`"),
        }
        i += 2;
    }
    options
}

/// Every `.ron` file under `dir` (and `.json`: the JSON scenarios of the error corpus), in path
/// order.
fn ron_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            ron_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "ron" || e == "json") {
            out.push(path);
        }
    }
}

fn seeds(root: &Path) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    for dir in [
        "scenarios",
        "tests/data",
        "fuzz/corpus/load_scenario",
        "fuzz/regressions",
    ] {
        ron_files(&root.join(dir), &mut paths);
    }
    let seeds: Vec<Vec<u8>> = paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|s| s.len() <= INPUT_LEN_MAX)
        .collect();
    assert!(!seeds.is_empty(), "no seeds under {}", root.display());
    seeds
}

/// Words, numbers and string literals of the seeds, and values that have broken parsers before.
fn dictionary(seeds: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut words: BTreeSet<Vec<u8>> = BTreeSet::new();
    for seed in seeds {
        let text = String::from_utf8_lossy(seed);
        for word in text.split(|c: char| !(c.is_alphanumeric() || "_.\"-".contains(c))) {
            if !word.is_empty() && word.len() <= 40 {
                words.insert(word.as_bytes().to_vec());
            }
        }
    }
    let long = "n".repeat(200);
    let mut dict: Vec<Vec<u8>> = words.into_iter().collect();
    dict.extend(EXTREMES.iter().map(|s| s.as_bytes().to_vec()));
    dict.push(format!("\"{long}\"").into_bytes());
    dict.push(long.into_bytes());
    dict
}

/// Values that have broken parsers before: numbers at and past the integer bounds, durations
/// of a nanosecond and of centuries, empty and odd strings, brackets, comments, invisible characters.
const EXTREMES: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "1e308",
    "-1e308",
    "1e-308",
    "4e9",
    "1e9",
    "1e10",
    "NaN",
    "inf",
    "-inf",
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "0.0",
    "1.5",
    "\"1ns\"",
    "\"0s\"",
    "\"0ns\"",
    "\"1e9h\"",
    "\"584y\"",
    "\"99999999999h\"",
    "\"1.0000001ms\"",
    "\"\"",
    "\"\\u{0}\"",
    "\"\u{feff}\"",
    "\"a:b\"",
    "\"a/b\"",
    "\"a.b\"",
    "()",
    "[]",
    "{}",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "Some(",
    "None",
    "true",
    "false",
    "r#\"",
    "/*",
    "*/",
    "//",
    "\n",
    "\u{0}",
    "\u{feff}",
    "é",
    "\"\u{202e}\"",
];

/// The spans of number literals and string literals in `input`.
fn tokens(input: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let start = i;
        if input[i] == b'"' {
            i += 1;
            while i < input.len() && input[i] != b'"' {
                i += 1;
            }
            i = (i + 1).min(input.len());
            spans.push((start, i));
        } else if input[i].is_ascii_digit() {
            while i < input.len()
                && (input[i].is_ascii_alphanumeric() || b".+-_".contains(&input[i]))
            {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

fn splice(input: &mut Vec<u8>, at: usize, end: usize, with: &[u8]) {
    input.splice(at..end, with.iter().copied());
}

/// One mutation of `input`, chosen by `rng`.
fn mutate_once(input: &mut Vec<u8>, rng: &mut Rng, seeds: &[Vec<u8>], dict: &[Vec<u8>]) {
    let len = input.len();
    let at = if len == 0 { 0 } else { rng.below(len) };
    let span = 1 + rng.below(64.min(len.max(1)));
    let end = (at + span).min(len);
    match rng.below(10) {
        // Replace a number or string literal by a word of the dictionary (the most fruitful).
        0..=2 => {
            let spans = tokens(input);
            if spans.is_empty() {
                return;
            }
            let (a, b) = spans[rng.below(spans.len())];
            let word = dict[rng.below(dict.len())].clone();
            splice(input, a, b, &word);
        }
        3 => {
            let word = dict[rng.below(dict.len())].clone();
            splice(input, at, at, &word);
        }
        4 if len > 0 => input[at] ^= 1 << rng.below(8),
        5 if len > 0 => input[at] = rng.next() as u8,
        6 => splice(input, at, end, &[]),
        7 => {
            let copy = input[at..end].to_vec();
            let to = if len == 0 { 0 } else { rng.below(len) };
            splice(input, to, to, &copy);
        }
        8 => {
            // Splice: this input's head, another seed's tail.
            let other = &seeds[rng.below(seeds.len())];
            let from = if other.is_empty() {
                0
            } else {
                rng.below(other.len())
            };
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        _ => {
            let spans = tokens(input);
            if spans.is_empty() {
                return;
            }
            // A number scaled by a power of ten, or its digits repeated.
            let (a, b) = spans[rng.below(spans.len())];
            let mut word = input[a..b].to_vec();
            let zeros = 1 + rng.below(12);
            let pos = word
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(word.len());
            word.splice(pos..pos, std::iter::repeat_n(b'0', zeros));
            splice(input, a, b, &word);
        }
    }
}

/// Input `index` of the run seeded with `seed`: a seed file and 1 to 16 mutations.
fn input_for(seed: u64, index: u64, seeds: &[Vec<u8>], dict: &[Vec<u8>]) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ index);
    rng.next();
    let mut input = seeds[rng.below(seeds.len())].clone();
    let stack_max = if rng.chance(4) { 16 } else { 4 };
    let n = 1 + rng.below(stack_max);
    for _ in 0..n {
        mutate_once(&mut input, &mut rng, seeds, dict);
        input.truncate(INPUT_LEN_MAX);
    }
    input
}

struct Tally {
    inputs: u64,
    panics: u64,
    slow: u64,
    slowest: (Duration, u64),
    /// Of every 64th input, how many loaded as a scenario: a measure of how deep inputs go.
    sampled: u64,
    loaded: u64,
    seen: BTreeSet<String>,
}

/// Runs input `index` through its target; a panic or a slow input is saved and counted.
#[allow(
    clippy::disallowed_methods,
    reason = "the fuzzer times inputs by the wall clock; no simulation reads it"
)]
fn run_one(options: &Options, index: u64, input: &[u8], tally: &mut Tally, findings: &Path) {
    let target = if index.is_multiple_of(2) {
        "load_scenario"
    } else {
        "load_variants"
    };
    let started = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        if index.is_multiple_of(2) {
            bodies::load_scenario(input, EVENTS_MAX);
        } else {
            bodies::load_variants(input);
        }
    }));
    let took = started.elapsed();
    tally.inputs += 1;
    if index.is_multiple_of(64) {
        tally.sampled += 1;
        let text = String::from_utf8_lossy(input);
        tally.loaded += u64::from(models::load_str("fuzz.ron", &text).is_ok());
    }
    if took > tally.slowest.0 {
        tally.slowest = (took, index);
    }
    let what = match outcome {
        Err(_) => {
            tally.panics += 1;
            LAST_PANIC.lock().map(|m| m.clone()).unwrap_or_default()
        }
        Ok(()) if took > SLOW => {
            tally.slow += 1;
            format!("slow: {took:?}")
        }
        Ok(()) => return,
    };
    let name = format!("{target}-seed{}-{index}", options.seed);
    let _ = std::fs::create_dir_all(findings);
    let _ = std::fs::write(findings.join(format!("{name}.ron")), input);
    let _ = std::fs::write(findings.join(format!("{name}.txt")), &what);
    let place = what.lines().next().unwrap_or("").to_string();
    if tally.seen.insert(place.clone()) {
        eprintln!("finding at input {index} ({target}): {place}");
        eprintln!(
            "  replay: fuzz_loaders --seed {} --from {index} --count 1 --show",
            options.seed
        );
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the fuzzer times inputs by the wall clock; no simulation reads it"
)]
fn main() {
    let options = parse_args();
    let seeds = seeds(&options.root);
    let dict = dictionary(&seeds);
    panic::set_hook(Box::new(|info| {
        let place = info.location().map(|l| l.to_string()).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = format!("panic at {place}: {message}");
        }
    }));
    let findings = options.root.join("target/fuzz-findings");
    let mut tally = Tally {
        inputs: 0,
        panics: 0,
        slow: 0,
        slowest: (Duration::ZERO, 0),
        sampled: 0,
        loaded: 0,
        seen: BTreeSet::new(),
    };
    let started = Instant::now();
    for index in options.from..options.from + options.count {
        let input = input_for(options.seed, index, &seeds, &dict);
        if options.show {
            println!("{}", String::from_utf8_lossy(&input));
        }
        run_one(&options, index, &input, &mut tally, &findings);
        if tally.inputs.is_multiple_of(100_000) {
            eprintln!(
                "{} inputs, {} panics, {} slow, {:.0} s",
                tally.inputs,
                tally.panics,
                tally.slow,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "seed {} inputs {}..{}: {} inputs ({} seeds), {} panics ({} distinct), {} slow; slowest {:?} (input {}); {} of {} sampled loaded; {:.0} s",
        options.seed,
        options.from,
        options.from + options.count,
        tally.inputs,
        seeds.len(),
        tally.panics,
        tally.seen.len(),
        tally.slow,
        tally.slowest.0,
        tally.slowest.1,
        tally.loaded,
        tally.sampled,
        started.elapsed().as_secs_f64()
    );
    std::process::exit(i32::from(tally.panics + tally.slow > 0));
}
