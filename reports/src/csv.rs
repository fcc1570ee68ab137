//! `runs.csv`: one row per (variant, run, service), for pandas or a spreadsheet.

use crate::sweep::Aggregate;
use std::fmt::Write;

pub const HEADER: &str = "variant,run,seed,digest,stop,service,arrived,completed,degraded,rejected,rate_limited,shed,failed,in_flight,availability,throughput_per_s,goodput_per_s,utilization,queue_len_mean,latency_mean_ns,latency_p50_ns,latency_p90_ns,latency_p99_ns,latency_p999_ns,latency_max_ns";

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
    let mut out = String::from(HEADER);
    out.push('\n');
    for v in &agg.variants {
        for r in v.records() {
            for (s, svc) in r.services.iter().enumerate() {
                let l = &svc.latency;
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    field(&v.name),
                    r.run,
                    r.seed,
                    r.digest,
                    r.stop,
                    field(&v.services[s]),
                    svc.counts.arrived,
                    svc.counts.completed,
                    svc.counts.degraded,
                    svc.counts.rejected,
                    svc.counts.rate_limited,
                    svc.counts.shed,
                    svc.counts.failed,
                    svc.counts.in_flight,
                    num(svc.metric(crate::sweep::MetricKind::Availability)),
                    num(svc.throughput_per_s),
                    num(svc.goodput_per_s),
                    num(svc.utilization),
                    num(svc.queue_len_mean),
                    num(l.mean_ns),
                    l.p50_ns,
                    l.p90_ns,
                    l.p99_ns,
                    l.p999_ns,
                    l.max_ns
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_fields() {
        assert_eq!(super::field("a,b"), "\"a,b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::field("plain"), "plain");
    }
}
