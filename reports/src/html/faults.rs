//! The injected faults of a sweep: the line under the header that lists them (and which variants
//! have each, when not all do), and the fault windows that the charts over time shade.

use super::markup::escape;
use crate::sweep::Aggregate;
use std::fmt::Write;

/// A time in the run for people: `60s`, `90s`, `2m`, `2m30s`, `1.5s`, `250ms`.
fn fmt_time(ns: u64) -> String {
    if !ns.is_multiple_of(1_000_000_000) {
        if ns < 1_000_000_000 {
            return format!("{}ms", trim_decimals(ns as f64 / 1e6, 3));
        }
        return format!("{}s", trim_decimals(ns as f64 / 1e9, 3));
    }
    let s = ns / 1_000_000_000;
    if s < 120 {
        return format!("{s}s");
    }
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if m > 0 {
        let _ = write!(out, "{m}m");
    }
    if sec > 0 {
        let _ = write!(out, "{sec}s");
    }
    out
}

/// `x` with at most `decimals` decimals, trailing zeros cut.
fn trim_decimals(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// One injected fault of the sweep, with the variants (indices) that have it.
pub(super) struct FaultWindow {
    what: String,
    pub(super) start_ns: u64,
    pub(super) end_ns: u64,
    variants: Vec<usize>,
}

impl FaultWindow {
    /// Whether some variant (with a finished run) lacks this fault.
    fn partial(&self, agg: &Aggregate) -> bool {
        agg.variants
            .iter()
            .enumerate()
            .any(|(i, v)| v.n_finished() > 0 && !self.variants.contains(&i))
    }

    /// The label of its band on a chart: the description, and which variants have it when not all.
    pub(super) fn label(&self, agg: &Aggregate) -> String {
        if !self.partial(agg) {
            return self.what.clone();
        }
        match self.variants.as_slice() {
            [i] => format!("{} (only {})", self.what, agg.variants[*i].name),
            many => format!("{} ({} variants)", self.what, many.len()),
        }
    }
}

/// The union of the faults of every variant, in order of first appearance (baseline first). A
/// variant with no finished run has no known faults and counts for none.
pub(super) fn fault_windows(agg: &Aggregate) -> Vec<FaultWindow> {
    let mut out: Vec<FaultWindow> = Vec::new();
    for (i, v) in agg.variants.iter().enumerate() {
        for (what, start, end) in &v.faults {
            match out
                .iter_mut()
                .find(|f| f.what == *what && f.start_ns == *start && f.end_ns == *end)
            {
                Some(f) => {
                    if !f.variants.contains(&i) {
                        f.variants.push(i);
                    }
                }
                None => out.push(FaultWindow {
                    what: what.clone(),
                    start_ns: *start,
                    end_ns: *end,
                    variants: vec![i],
                }),
            }
        }
    }
    out
}

/// `Injected faults: payments 100x slower, 60s–90s.` under the variants, when there are any.
pub(super) fn faults_line(out: &mut String, agg: &Aggregate) {
    let faults = fault_windows(agg);
    if faults.is_empty() {
        return;
    }
    let items: Vec<String> = faults
        .iter()
        .map(|f| {
            let only = if f.partial(agg) {
                let names: Vec<String> = f
                    .variants
                    .iter()
                    .map(|&i| format!("<b>{}</b>", escape(&agg.variants[i].name)))
                    .collect();
                format!(
                    " <span class=\"meta\">(only in {})</span>",
                    names.join(", ")
                )
            } else {
                String::new()
            };
            format!(
                "{}, {}–{}{only}",
                escape(&f.what),
                fmt_time(f.start_ns),
                fmt_time(f.end_ns)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<p class=\"faults\"><span class=\"band\"></span>Injected fault{}: {}. <span class=\"meta\">Shaded on the \
         charts over time.</span></p>",
        if faults.len() == 1 { "" } else { "s" },
        items.join("; ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_for_people() {
        assert_eq!(fmt_time(60_000_000_000), "60s");
        assert_eq!(fmt_time(90_000_000_000), "90s");
        assert_eq!(fmt_time(120_000_000_000), "2m");
        assert_eq!(fmt_time(150_000_000_000), "2m30s");
        assert_eq!(fmt_time(3_600_000_000_000), "1h");
        assert_eq!(fmt_time(1_500_000_000), "1.5s");
        assert_eq!(fmt_time(250_000_000), "250ms");
        assert_eq!(fmt_time(0), "0s");
    }
}
