//! Comparisons that cannot favour the broken design: the SLO metric and the latency of all
//! requests over every request, intervals that stay inside what a metric can take, the users'
//! series, and every metric the README lists present in `summary.json`.

use crate::repo_path;
use faultline::SweepOptions;
use reports::comparison::Comparison;
use reports::metric::{MetricKind, Unit};
use reports::summary::Summary;
use reports::sweep::Aggregate;

fn sweep(rel: &str, runs: u32) -> (Summary, Aggregate) {
    let study = faultline::load_study(&repo_path(rel)).unwrap();
    let opts = SweepOptions {
        runs: Some(runs),
        jobs: Some(2),
        ..Default::default()
    };
    faultline::study_summary(&study, &opts, &|| {}).unwrap()
}

fn comparison<'a>(s: &'a Summary, service: &str, m: MetricKind) -> &'a Comparison {
    s.comparisons
        .iter()
        .find(|c| c.service == service && c.metric == m)
        .unwrap_or_else(|| panic!("no comparison of {} at {service}", m.name()))
}

/// A design that fails its slow requests (`survivor`: slow searches fail at a 2s timeout) looks
/// far faster on the latency of successes than one that serves them (`patient`: 1s), and must
/// come out worse on the SLO metric and on the latency of all requests, with its latency of
/// successes marked not comparable.
#[test]
fn a_design_that_fails_its_slow_requests_comes_out_worse() {
    let (s, agg) = sweep("tests/data/survivor.ron", 8);
    let users = "users:api";
    let slo = comparison(&s, users, MetricKind::WithinSlo);
    assert_eq!(slo.outcome, "worse", "{}", slo.text);
    // One search in ten fails: about ten points fewer answered well.
    assert!(
        slo.diff_ci_high < -0.08 && slo.diff_ci_low > -0.11,
        "{}",
        slo.text
    );
    let all = comparison(&s, users, MetricKind::AllLatencyP99);
    assert_eq!(all.outcome, "worse", "{}", all.text);
    assert!(all.variant_mean > all.baseline_mean);
    // Its successes are faster by two orders of magnitude, and that must not count.
    let ok = comparison(&s, users, MetricKind::LatencyP99);
    assert!(ok.variant_mean < ok.baseline_mean / 10.0, "{}", ok.text);
    assert_eq!(ok.outcome, "not comparable");
    assert!(s
        .notes
        .iter()
        .any(|n| n.contains("`survivor` at `users:api`")));
    // The answer, first in every report.
    let h = &s.headlines[0];
    assert_eq!(
        (h.variant.as_str(), h.outcome.as_str()),
        ("survivor", "worse")
    );
    assert!(
        h.text
            .contains("points fewer of `users:api`'s requests well (successfully within 1.50s)"),
        "{}",
        h.text
    );
    let md = reports::markdown::render(&s);
    let answer = md.find("## The answer").expect("the answer section");
    assert!(answer < md.find("## Against").unwrap());
    assert!(md.contains("(**worse**)"));
    let html = reports::html::render_html(&s, &agg);
    assert!(html.contains("<li class=\"worse\">"));
    assert!(
        html.find("<h2>The answer</h2>").unwrap() < html.find("<h2>Expectations</h2>").unwrap()
    );
    let terminal = reports::table::render_summary(&s);
    assert!(
        terminal.lines().nth(1).unwrap().contains("points fewer"),
        "{terminal}"
    );
}

/// Every interval of a mean stays inside the metric's range, and every paired difference keeps
/// the variant inside it too — also at the edges: the retry storm answers 0% against 100%.
#[test]
fn intervals_of_bounded_metrics_stay_inside_their_bounds() {
    for (rel, runs) in [
        ("tests/data/survivor.ron", 4),
        ("scenarios/defences/retry-storm.ron", 3),
        // Users within SLO near 100% in every run: three runs give t intervals wide enough to
        // cross 100% unless kept inside.
        ("scenarios/quickstart.ron", 3),
    ] {
        let (s, _) = sweep(rel, runs);
        let eps = 1e-12;
        for v in &s.variants {
            for svc in &v.services {
                for m in &svc.metrics {
                    let (lo, hi) = m.metric.range();
                    if m.n >= 2 {
                        assert!(
                            m.ci_low >= lo - eps && m.ci_high <= hi + eps,
                            "{rel}: {} of {} in {}: [{}, {}]",
                            m.metric.name(),
                            svc.name,
                            v.name,
                            m.ci_low,
                            m.ci_high
                        );
                    }
                }
            }
        }
        assert!(!s.comparisons.is_empty());
        for c in &s.comparisons {
            let (lo, hi) = c.metric.range();
            let (a, b) = (
                c.baseline_mean + c.diff_ci_low,
                c.baseline_mean + c.diff_ci_high,
            );
            assert!(a >= lo - eps && b <= hi + eps, "{rel}: {}", c.text);
            if let Some(r) = c.relative {
                assert!(r.low >= -1.0 && r.low <= r.high, "{rel}: {}", c.text);
            }
            if c.metric.unit() == Unit::Fraction {
                assert!(
                    c.relative.is_none() && c.text.contains(" pp ["),
                    "{}",
                    c.text
                );
            }
        }
    }
}

/// Users' series are filled whenever users were served: the "Over time" charts of
/// `users:<workload>` show their answers and their share within the SLO.
#[test]
fn users_time_series_are_not_empty_when_users_were_served() {
    let (s, agg) = sweep("scenarios/failures/zone-outage.ron", 2);
    for v in &agg.variants {
        let k = v.service_idx("users:web").expect("users:web");
        let answered: u64 = v.series[k].completed.iter().sum();
        let served = v
            .records()
            .map(|r| r.services[k].counts.completed)
            .sum::<u64>();
        assert!(
            served > 0 && answered >= served,
            "{}: {answered} < {served}",
            v.name
        );
        assert!(v.good_series[k].iter().sum::<u64>() > 0);
    }
    let html = reports::html::render_html(&s, &agg);
    let users = &html[html
        .find("<h3>users:web</h3>\n<div class=\"charts three\">")
        .unwrap()..];
    let users = &users[..users.find("</div>").unwrap()];
    assert!(!users.contains("no request completed in any run"));
    assert!(users.contains("users:web · within SLO"));
}

/// The metric tables of the README's "Comparing designs" section: their keys, one per cell
/// entry in backticks.
fn readme_keys(readme: &str, after: &str) -> Vec<String> {
    let table = &readme[readme.find(after).expect(after)..];
    let table = &table[table.find("| key | metric |").unwrap()..];
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or("");
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|k| k != "up-K")
        .collect()
}

/// Every metric the README lists is in `summary.json`, and every metric `summary.json` has is in
/// the README.
#[test]
fn every_metric_the_readme_lists_is_in_summary_json() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let (s, _) = sweep("tests/data/survivor.ron", 2);
    let mut json = serde_json::to_string(&s).unwrap();
    // A cache's metric, from a scenario with a cache.
    let (caches, _) = sweep("tests/data/cache-coalesce.ron", 2);
    json += &serde_json::to_string(&caches).unwrap();
    // A broker's, from a scenario with a queue.
    let (queues, _) = sweep("tests/data/queue-ledger.ron", 1);
    json += &serde_json::to_string(&queues).unwrap();
    let keys = readme_keys(&readme, "Metrics (their keys");
    for k in &keys {
        assert!(
            MetricKind::from_key(k).is_some(),
            "README lists unknown `{k}`"
        );
        assert!(
            json.contains(&format!("\"metric\":\"{k}\"")),
            "`{k}` not in summary.json"
        );
    }
    for m in MetricKind::ALL {
        assert!(
            keys.contains(&m.key()),
            "README does not list `{}`",
            m.key()
        );
    }
    let edge_keys = readme_keys(&readme, "Per call edge (`edges`");
    assert_eq!(
        edge_keys.len(),
        reports::edges::EdgeMetric::ALL.len(),
        "{edge_keys:?}"
    );
    for k in &edge_keys {
        assert!(
            json.contains(&format!("\"metric\":\"{k}\"")),
            "edge `{k}` not in summary.json"
        );
    }
}
