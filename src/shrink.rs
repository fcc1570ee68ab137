//! Shrinking a failing run's fault schedule: the fewest faults, in the shortest windows, that
//! still make the same run (same seed, same run index) break the same `expect`.
//!
//! ```text
//!  original faults ──ddmin──▶ fewest faults ──per fault: trim the end, then the start──▶ minimal
//!        (every candidate is one run: rebuild the world with its faults, simulate, evaluate)
//! ```
//!
//! The search is Zeller's delta debugging (ddmin) over the list of faults, then a binary search
//! of each remaining fault's window in whole steps of the scenario's `resolution` (or 1 ms, if
//! coarser): first its length (`lasts`; a fault without one lasts to the horizon), then its start
//! (`at` moved later, its end kept). Binary search assumes that a shorter window breaks the
//! expectation less; where that is not so, the result is still a schedule that breaks it, only
//! perhaps not the smallest. Every candidate counts against a limit on runs (`runs_max`).
//!
//! A fault is treated as opaque apart from `at` and `lasts`: the kinds of fault and their other
//! fields are copied as they are. The minimal schedule is printed as scenario text cut from the
//! scenario's own text, with only `at` and `lasts` rewritten, and is checked to read back as the
//! schedule that was run.

use crate::{Error, LoadedStudy};
use models::spec::{Dur, Expect, FaultSpec};
use models::variants::{Design, Study};
use reports::check::Verdict;
use sim_core::SimDuration;
use std::collections::BTreeMap;
use std::path::Path;

/// The default limit on the runs one search may make.
pub const RUNS_MAX_DEFAULT: u32 = 500;

/// Which run to shrink, and for which expectation.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// The variant (design); may be left out when the scenario has only one.
    pub variant: Option<String>,
    /// The run index, fixed throughout the search.
    pub run: u64,
    /// The seed, fixed throughout the search; the scenario's when `None`.
    pub seed: Option<u64>,
    /// The expectation to keep broken (0-based index in the scenario's `expect` list); the first
    /// one the run breaks when `None`.
    pub expect: Option<usize>,
    /// Most runs the search may make (the original run included).
    pub runs_max: u32,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions {
            variant: None,
            run: 0,
            seed: None,
            expect: None,
            runs_max: RUNS_MAX_DEFAULT,
        }
    }
}

/// What a search found.
pub struct ShrinkOutcome {
    pub variant: String,
    pub seed: u64,
    pub run: u64,
    /// The original run's digest: the same as the sweep's run (`faultline replay` shows it).
    pub digest: String,
    /// Every expectation evaluated on the original run: (index in `expect`, verdict).
    pub verdicts: Vec<(usize, Verdict)>,
    /// `Better` expectations left out: they compare variants, which one run cannot.
    pub skipped: Vec<usize>,
    /// The search, when the run breaks an expectation.
    pub shrunk: Option<Shrunk>,
}

/// The smallest schedule found that still breaks the expectation.
pub struct Shrunk {
    /// The expectation kept broken (index in `expect`).
    pub expect: usize,
    /// The run's original faults.
    pub original: Vec<FaultSpec>,
    /// The minimal schedule.
    pub faults: Vec<FaultSpec>,
    /// The minimal schedule as scenario text: a `faults: [ ... ],` block.
    pub text: String,
    /// Whether `text` reads back as `faults` (checked by parsing it in the scenario).
    pub text_verified: bool,
    /// The expectation's verdicts with the minimal schedule.
    pub verdicts: Vec<Verdict>,
    /// Runs simulated, the original included.
    pub runs: u32,
    /// Whether the search stopped at `runs_max`.
    pub limit_hit: bool,
}

/// One fault of a candidate schedule: the original fault `idx` with its window moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Window {
    idx: usize,
    at_ns: u64,
    lasts_ns: Option<u64>,
}

/// Searches for the smallest fault schedule with which run `opts.run` of a variant of the
/// scenario at `path` still breaks an expectation. `on_run` is called after every run with the
/// number of runs so far and the size of the best schedule (for progress).
pub fn shrink(
    path: &Path,
    opts: &ShrinkOptions,
    on_run: &dyn Fn(u32, usize),
) -> Result<ShrinkOutcome, Error> {
    shrink_loaded(&crate::load_study(path)?, opts, on_run)
}

/// [`shrink`] of a loaded scenario (read from standard input, or with overrides).
pub fn shrink_loaded(
    loaded: &LoadedStudy,
    opts: &ShrinkOptions,
    on_run: &dyn Fn(u32, usize),
) -> Result<ShrinkOutcome, Error> {
    if opts.runs_max == 0 {
        return Err(Error::Usage("the limit on runs must be at least 1".into()));
    }
    let path = Path::new(&loaded.study.file);
    let design = crate::replay::find_design(loaded, path, opts.variant.as_deref())?;
    let seed = opts.seed.unwrap_or(loaded.study.spec.seed);
    let (expects, skipped) = chosen_expects(loaded, opts.expect)?;
    let mut search = Search::new(loaded, design, seed, opts, expects, on_run);
    let all = windows(search.original);
    let (digest, verdicts) = search
        .evaluate(&all)?
        .ok_or_else(|| Error::Usage("the scenario's own fault schedule does not build".into()))?;
    if let Some(n) = opts.expect {
        if !verdicts.iter().any(|(i, _)| *i == n) {
            return Err(Error::Usage(format!(
                "{}: expectation {n} does not apply to variant `{}`",
                path.display(),
                design.name
            )));
        }
    }
    let target = verdicts.iter().find(|(_, v)| !v.holds).map(|(i, _)| *i);
    let mut outcome = ShrinkOutcome {
        variant: design.name.clone(),
        seed,
        run: opts.run,
        digest,
        verdicts,
        skipped,
        shrunk: None,
    };
    if let Some(target) = target {
        let shrunk = search.shrink_to(target, all, &outcome.verdicts, loaded)?;
        outcome.shrunk = Some(shrunk);
    }
    Ok(outcome)
}

/// The windows of the original faults: the schedule a search starts from.
fn windows(faults: &[FaultSpec]) -> Vec<Window> {
    faults
        .iter()
        .enumerate()
        .map(|(idx, f)| Window {
            idx,
            at_ns: f.at.0.as_ns(),
            lasts_ns: f.lasts.map(|d| d.0.as_ns()),
        })
        .collect()
}

/// The expectations a single run can break, with their indices, and the indices of the
/// `Better` ones left out.
type Chosen = (Vec<(usize, Expect)>, Vec<usize>);

fn chosen_expects(loaded: &LoadedStudy, only: Option<usize>) -> Result<Chosen, Error> {
    let all = &loaded.study.spec.expect;
    let better = |e: &Expect| matches!(e, Expect::Better { .. });
    if let Some(n) = only {
        let e = all.get(n).ok_or_else(|| {
            Error::Usage(format!(
                "--expect {n}: the scenario has {} expectations (numbered from 0)",
                all.len()
            ))
        })?;
        if better(e) {
            return Err(Error::Usage(format!(
                "--expect {n}: expectation {n} is a `Better`, which compares variants over many runs; one run cannot break it"
            )));
        }
        return Ok((vec![(n, e.clone())], Vec::new()));
    }
    if all.is_empty() {
        return Err(Error::Usage(
            "the scenario has no `expect` assertions for a run to break".into(),
        ));
    }
    let (better_ones, single): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .enumerate()
        .partition(|(_, e)| better(e));
    Ok((single, better_ones.into_iter().map(|(i, _)| i).collect()))
}

/// A run's digest and its verdicts: (index in `expect`, verdict).
type Evaluated = (String, Vec<(usize, Verdict)>);

/// The state of one search: what is fixed, the runs made so far and their verdicts.
struct Search<'a> {
    file: &'a str,
    design: &'a Design,
    /// The study with this design alone, for building the aggregate of one run.
    one: Study,
    original: &'a [FaultSpec],
    seed: u64,
    run: u64,
    /// The expectations evaluated on each run (after the first run: the one kept broken).
    expects: Vec<(usize, Expect)>,
    runs: u32,
    runs_max: u32,
    limit_hit: bool,
    /// For schedules already run: the expectation's verdicts if the schedule breaks it.
    cache: BTreeMap<Vec<Window>, Option<Vec<Verdict>>>,
    best_len: usize,
    on_run: &'a dyn Fn(u32, usize),
}

impl<'a> Search<'a> {
    /// A search on run `opts.run` of `design` with `seed`, which has made no run yet.
    fn new(
        loaded: &'a LoadedStudy,
        design: &'a Design,
        seed: u64,
        opts: &ShrinkOptions,
        expects: Vec<(usize, Expect)>,
        on_run: &'a dyn Fn(u32, usize),
    ) -> Search<'a> {
        let original = &design.world.spec.faults;
        Search {
            file: &loaded.study.file,
            design,
            one: Study {
                designs: vec![design.clone()],
                ..loaded.study.clone()
            },
            original,
            seed,
            run: opts.run,
            expects,
            runs: 0,
            runs_max: opts.runs_max,
            limit_hit: false,
            cache: BTreeMap::new(),
            best_len: original.len(),
            on_run,
        }
    }

    /// Shrinks the original schedule `all`, already run with `verdicts`, keeping expectation
    /// `target` broken: the evaluation is narrowed to it, then the schedule minimized.
    fn shrink_to(
        &mut self,
        target: usize,
        all: Vec<Window>,
        verdicts: &[(usize, Verdict)],
        loaded: &LoadedStudy,
    ) -> Result<Shrunk, Error> {
        self.expects.retain(|(i, _)| *i == target);
        let kept: Vec<Verdict> = verdicts
            .iter()
            .filter(|(i, _)| *i == target)
            .map(|(_, v)| v.clone())
            .collect();
        self.cache.insert(all.clone(), Some(kept));
        let minimal = self.minimize(all)?;
        let faults = self.specs(&minimal);
        let verdicts = self
            .cache
            .get(&minimal)
            .cloned()
            .flatten()
            .expect("the minimal schedule is one that was run and breaks the expectation");
        let (text, text_verified) = render(loaded, self.design, &faults);
        Ok(Shrunk {
            expect: target,
            original: self.original.to_vec(),
            faults,
            text,
            text_verified,
            verdicts,
            runs: self.runs,
            limit_hit: self.limit_hit,
        })
    }
}

impl Search<'_> {
    /// The faults of a schedule as the scenario writes them.
    fn specs(&self, schedule: &[Window]) -> Vec<FaultSpec> {
        schedule
            .iter()
            .map(|w| {
                let mut f = self.original[w.idx].clone();
                f.at = Dur(SimDuration::from_ns(w.at_ns));
                f.lasts = w.lasts_ns.map(|ns| Dur(SimDuration::from_ns(ns)));
                f
            })
            .collect()
    }

    /// Simulates the run with `schedule` and evaluates the expectations on it alone; `None` when
    /// the schedule does not build (the search then treats it as not breaking anything).
    fn evaluate(&mut self, schedule: &[Window]) -> Result<Option<Evaluated>, Error> {
        let mut spec = self.design.world.spec.clone();
        spec.faults = self.specs(schedule);
        let Ok(world) = models::validate::build(self.file, None, spec) else {
            return Ok(None);
        };
        let (mut result, histograms) = crate::run_guarded(&world, self.seed, self.run)?;
        let digest = result.digest.clone();
        self.runs += 1;
        (self.on_run)(self.runs, self.best_len);
        // The aggregate of this one run, built as a sweep builds its own; the run's record goes
        // in slot 0, whatever its run index.
        result.run = 0;
        self.one.designs[0].world = std::sync::Arc::new(world);
        let mut agg = crate::sweep::empty_aggregate(&self.one, 1, self.seed);
        agg.variants[0].add(&result, &histograms);
        let mut out = Vec::new();
        for (i, e) in &self.expects {
            for v in reports::check::evaluate(std::slice::from_ref(e), &agg) {
                out.push((*i, v));
            }
        }
        Ok(Some((digest, out)))
    }

    /// Whether `schedule` still breaks the expectation. Once the limit on runs is reached,
    /// every schedule not run before counts as not breaking it, so that the search ends.
    fn breaks(&mut self, schedule: &[Window]) -> Result<bool, Error> {
        if let Some(known) = self.cache.get(schedule) {
            return Ok(known.is_some());
        }
        if self.runs >= self.runs_max {
            self.limit_hit = true;
            return Ok(false);
        }
        let verdicts = self
            .evaluate(schedule)?
            .map(|(_, vs)| vs.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
            .filter(|vs| vs.iter().any(|v| !v.holds));
        let breaks = verdicts.is_some();
        self.cache.insert(schedule.to_vec(), verdicts);
        if breaks {
            self.best_len = self.best_len.min(schedule.len());
        }
        Ok(breaks)
    }

    /// The fewest faults, then the shortest windows, that still break the expectation.
    fn minimize(&mut self, all: Vec<Window>) -> Result<Vec<Window>, Error> {
        if all.is_empty() || self.breaks(&[])? {
            return Ok(Vec::new());
        }
        let mut schedule = self.ddmin(all)?;
        for i in 0..schedule.len() {
            self.trim_end(&mut schedule, i)?;
            self.trim_start(&mut schedule, i)?;
        }
        Ok(schedule)
    }

    /// Zeller's ddmin: a 1-minimal subset of `c` (removing any one fault stops the failure),
    /// given that `c` fails and the empty schedule does not.
    fn ddmin(&mut self, mut c: Vec<Window>) -> Result<Vec<Window>, Error> {
        let mut n = 2;
        while c.len() >= 2 {
            let chunks: Vec<Vec<Window>> = (0..n)
                .map(|i| c[i * c.len() / n..(i + 1) * c.len() / n].to_vec())
                .collect();
            let mut reduced = None;
            for chunk in &chunks {
                if self.breaks(chunk)? {
                    reduced = Some((chunk.clone(), 2));
                    break;
                }
            }
            // With two chunks each complement is the other chunk, tried already.
            if reduced.is_none() && n > 2 {
                for i in 0..n {
                    let complement: Vec<Window> = chunks
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .flat_map(|(_, ch)| ch.iter().copied())
                        .collect();
                    if self.breaks(&complement)? {
                        reduced = Some((complement, (n - 1).max(2)));
                        break;
                    }
                }
            }
            match reduced {
                Some((smaller, granularity)) => {
                    c = smaller;
                    n = granularity;
                }
                None if n >= c.len() => break,
                None => n = (2 * n).min(c.len()),
            }
        }
        Ok(c)
    }

    /// The step of window searches: the resolution, or 1 ms if coarser.
    fn unit_ns(&self) -> u64 {
        let ms = SimDuration::from_ms(1).as_ns();
        self.design.world.resolution.as_ns().max(ms)
    }

    fn horizon_ns(&self) -> u64 {
        self.design.world.horizon.as_ns()
    }

    /// Shortens fault `i`'s window from its end: the fewest whole steps that still break it.
    fn trim_end(&mut self, schedule: &mut [Window], i: usize) -> Result<(), Error> {
        let unit = self.unit_ns();
        let w = schedule[i];
        let len = w
            .lasts_ns
            .unwrap_or(self.horizon_ns().saturating_sub(w.at_ns));
        let steps = len.div_ceil(unit);
        // `hi` steps break the expectation (`steps` steps are the window as it is); `lo` do not.
        let (mut lo, mut hi) = (0, steps);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let mut candidate = schedule.to_vec();
            candidate[i].lasts_ns = Some((mid * unit).min(len));
            if self.breaks(&candidate)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        if hi < steps {
            schedule[i].lasts_ns = Some(hi * unit);
        }
        Ok(())
    }

    /// Moves fault `i`'s start later, its end kept, by the most whole steps that still break it.
    fn trim_start(&mut self, schedule: &mut [Window], i: usize) -> Result<(), Error> {
        let unit = self.unit_ns();
        let w = schedule[i];
        let end = match w.lasts_ns {
            Some(l) => w.at_ns.saturating_add(l),
            None => self.horizon_ns(),
        };
        let len = end.saturating_sub(w.at_ns);
        let moved = |d: u64| Window {
            at_ns: w.at_ns + d * unit,
            lasts_ns: w.lasts_ns.map(|_| len - d * unit),
            ..w
        };
        // A delay of `lo` steps breaks the expectation; one of `hi` steps leaves no window.
        let (mut lo, mut hi) = (0, len.div_ceil(unit));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let mut candidate = schedule.to_vec();
            candidate[i] = moved(mid);
            if self.breaks(&candidate)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        schedule[i] = moved(lo);
        Ok(())
    }
}

/// The minimal schedule as a `faults: [ ... ],` block, each fault cut from the text it was read
/// from with only `at` and `lasts` rewritten; and whether the block reads back as `faults`.
fn render(loaded: &LoadedStudy, design: &Design, faults: &[FaultSpec]) -> (String, bool) {
    let texts = fault_texts(loaded);
    let mut block = String::from("    faults: [\n");
    for f in faults {
        let item = texts
            .iter()
            .find(|(_, spec)| same_but_window(spec, f))
            .and_then(|(text, spec)| with_window(text, spec, f));
        match item {
            Some(text) => block.push_str(&format!("        {text},\n")),
            None => block.push_str(&format!(
                "        // a fault of variant `{}` at {} for {}: not found in the scenario's text\n",
                design.name,
                f.at.0,
                f.lasts.map_or("the rest of the run".to_string(), |d| d.0.to_string())
            )),
        }
    }
    block.push_str("    ],\n");
    let verified = read_back(&loaded.source, &block).is_some_and(|read| read == faults);
    (block, verified)
}

/// Whether two faults differ at most in their window.
fn same_but_window(a: &FaultSpec, b: &FaultSpec) -> bool {
    let mut a = a.clone();
    a.at = b.at;
    a.lasts = b.lasts;
    a == *b
}

/// Every fault written in the scenario's text, with what it reads as: the base scenario's
/// `faults`, and faults that variants and grid points set.
fn fault_texts(loaded: &LoadedStudy) -> Vec<(String, FaultSpec)> {
    let source = &loaded.source;
    let mut out = Vec::new();
    if let Ok(root) = models::patch::parse(source) {
        if let Some(models::patch::Node::List { items, .. }) =
            root.field("faults").map(|f| &f.value)
        {
            for (item, spec) in items.iter().zip(&loaded.study.spec.faults) {
                let s = item.span();
                out.push((source[s.start..s.end].to_string(), spec.clone()));
            }
        }
    }
    let spec = &loaded.study.spec;
    let set_values = spec
        .variants
        .iter()
        .flat_map(|v| v.set.iter().map(|(k, raw)| (k.as_str(), raw.get_ron())))
        .chain(
            spec.grid
                .iter()
                .flat_map(|(k, values)| values.iter().map(move |raw| (k.as_str(), raw.get_ron()))),
        );
    for (path, text) in set_values {
        if !path.starts_with("faults") {
            continue;
        }
        let items = match models::patch::parse(text) {
            Ok(models::patch::Node::List { items, .. }) => items,
            Ok(node) => vec![node],
            Err(_) => continue,
        };
        for item in items {
            let s = item.span();
            let item_text = text[s.start..s.end].to_string();
            let block = format!("faults: [{item_text}],");
            if let Some([spec]) = read_back(source, &block).as_deref() {
                out.push((item_text.clone(), spec.clone()));
            }
        }
    }
    out
}

/// The scenario's text with its `faults` replaced by `block` (a `faults: [...],` field), read
/// back: the faults it holds, or `None` if it does not parse.
fn read_back(source: &str, block: &str) -> Option<Vec<FaultSpec>> {
    let root = models::patch::parse(source).ok()?;
    let list = block
        .trim()
        .strip_prefix("faults:")?
        .trim()
        .strip_suffix(',')?;
    let text = models::patch::apply(source, &root, &[("faults".into(), list.into())], &[]).ok()?;
    models::validate::parse("", &text).ok().map(|s| s.faults)
}

/// The text of a fault (which reads as `was`) with its window set to that of `now`: values of
/// `at` and `lasts` that changed are replaced, or added after `at` when absent.
fn with_window(text: &str, was: &FaultSpec, now: &FaultSpec) -> Option<String> {
    let node = models::patch::parse(text).ok()?;
    let quoted = |d: Dur| format!("\"{}\"", d.0);
    // (start, end, replacement) in `text`, applied from the end.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let at_field = node.field("at");
    if was.at != now.at {
        match at_field {
            Some(f) => {
                let s = f.value.span();
                edits.push((s.start, s.end, quoted(now.at)));
            }
            None => {
                let open = text.find('(')? + 1;
                edits.push((open, open, format!("at: {}, ", quoted(now.at))));
            }
        }
    }
    if was.lasts != now.lasts {
        let lasts = now.lasts?;
        match (node.field("lasts"), at_field) {
            (Some(f), _) => {
                let s = f.value.span();
                edits.push((s.start, s.end, quoted(lasts)));
            }
            (None, Some(at)) => {
                let end = at.value.span().end;
                edits.push((end, end, format!(", lasts: {}", quoted(lasts))));
            }
            (None, None) => {
                let open = text.find('(')? + 1;
                edits.push((open, open, format!("lasts: {}, ", quoted(lasts))));
            }
        }
    }
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = text.to_string();
    for (start, end, replacement) in edits.into_iter().rev() {
        out.replace_range(start..end, &replacement);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(text: &str) -> FaultSpec {
        let source = format!(
            "Scenario(name: \"t\", horizon: \"1m\", services: [(name: \"s\", work: Exponential(mean: \"1ms\"))], workload: [(entry: \"s\", arrivals: Poisson(rate_per_s: 1))], faults: [{text}])"
        );
        models::validate::parse("t", &source)
            .unwrap()
            .faults
            .remove(0)
    }

    #[test]
    fn windows_are_rewritten_in_the_text() {
        let text = r#"(at: "10s", what: Outage(service: "s"))"#;
        let was = fault(text);
        let mut now = was.clone();
        now.at = Dur(SimDuration::from_secs(20));
        now.lasts = Some(Dur(SimDuration::from_ms(1500)));
        let out = with_window(text, &was, &now).unwrap();
        assert_eq!(
            out,
            r#"(at: "20s", lasts: "1.5s", what: Outage(service: "s"))"#
        );
        assert_eq!(fault(&out), now);
        assert_eq!(with_window(text, &was, &was).unwrap(), text);
    }
}
