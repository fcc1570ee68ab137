//! `runs.csv`: one row per (variant, run, service), for pandas or a spreadsheet.

use crate::metric::{MetricKind, Unit};
use crate::sweep::Aggregate;
use std::fmt::Write;

/// The columns before the metrics: the run, the service, and its requests by outcome.
const HEAD: &str = "variant,run,seed,digest,stop,service,arrived,completed,degraded,rejected,rate_limited,shed,failed,in_flight,good,late_in_flight";

/// The header: [`HEAD`], then one column per metric of [`MetricKind::ALL`], by its key with
/// `-` as `_` and its unit (`p99_ns`, `within_slo`, `throughput_per_s`).
pub fn header() -> String {
    let mut h = HEAD.to_string();
    for m in MetricKind::ALL {
        h.push(',');
        h.push_str(&column(m));
    }
    h
}

fn column(m: MetricKind) -> String {
    let key = m.key().replace('-', "_");
    match m.unit() {
        Unit::Duration => format!("{key}_ns"),
        Unit::Rate => format!("{key}_per_s"),
        _ => key,
    }
}

/// Quotes a field if it holds a comma, quote or newline (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

pub fn render(agg: &Aggregate) -> String {
    let mut out = header();
    out.push('\n');
    for v in &agg.variants {
        for r in v.records() {
            for (s, svc) in r.services.iter().enumerate() {
                let c = &svc.counts;
                let _ = write!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    field(&v.name),
                    r.run,
                    r.seed,
                    r.digest,
                    r.stop,
                    field(&v.services[s]),
                    c.arrived,
                    c.completed,
                    c.degraded,
                    c.rejected,
                    c.rate_limited,
                    c.shed,
                    c.failed,
                    c.in_flight,
                    svc.good,
                    svc.late_in_flight,
                );
                for m in MetricKind::ALL {
                    out.push(',');
                    out.push_str(&num(svc.metric(m)));
                }
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_column_per_metric_with_its_unit() {
        let h = super::header();
        assert!(h.contains(",within_slo,"), "{h}");
        assert!(
            h.contains(",p95_ns,") && h.contains(",all_p99_ns,") && h.contains(",wait_p99_ns,")
        );
        assert!(h.contains(",throughput_per_s,"));
        let n = h.split(',').count();
        assert_eq!(n, 16 + super::MetricKind::ALL.len());
    }

    #[test]
    fn quotes_fields() {
        assert_eq!(super::field("a,b"), "\"a,b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::field("plain"), "plain");
    }
}
