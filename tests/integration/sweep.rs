//! Many runs: variants on common random numbers, job-count independence, `check` verdicts.

use crate::repo_path;
use faultline::SweepOptions;

fn opts(runs: u32, jobs: usize) -> SweepOptions {
    SweepOptions { runs: Some(runs), jobs: Some(jobs), seed: None }
}

/// All report files of a sweep of `rel`, as bytes, in a fixed order.
fn report_bytes(rel: &str, o: &SweepOptions, dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let study = faultline::load_study(&repo_path(rel)).unwrap();
    let (summary, agg) = faultline::study_summary(&study, o, &|| {}).unwrap();
    faultline::write_reports(dir, &summary, &agg).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.into_iter().map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn reports_are_identical_for_any_number_of_jobs() {
    let tmp = std::env::temp_dir().join(format!("faultline-jobs-{}", std::process::id()));
    let one = report_bytes("scenarios/quickstart.ron", &opts(6, 1), &tmp.join("j1"));
    let two = report_bytes("scenarios/quickstart.ron", &opts(6, 2), &tmp.join("j2"));
    let names: Vec<&str> = one.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"summary.json") && names.contains(&"runs.csv") && names.contains(&"report.md"), "{names:?}");
    assert_eq!(one, two, "reports differ between --jobs 1 and --jobs 2");
    let _ = std::fs::remove_dir_all(tmp);
}

#[test]
fn variants_share_random_numbers() {
    // Common random numbers: a change that does not touch the workload leaves arrivals alone, so
    // the same run index offers the same requests to every variant.
    let study = faultline::load_study(&repo_path("scenarios/quickstart.ron")).unwrap();
    let (_, agg) = faultline::study_summary(&study, &opts(3, 2), &|| {}).unwrap();
    let arrivals = |v: usize| agg.variants[v].records().map(|r| r.services[0].arrived).collect::<Vec<_>>();
    assert_eq!(arrivals(0), arrivals(1));
    let digests = |v: usize| agg.variants[v].records().map(|r| r.digest.clone()).collect::<Vec<_>>();
    assert_ne!(digests(0), digests(1), "the variants do differ");
}

#[test]
fn check_fails_when_expectations_do_not_hold() {
    let outcome = faultline::check(&repo_path("tests/data/violated.ron"), &opts(8, 2)).unwrap();
    let holds: Vec<bool> = outcome.summary.expectations.iter().map(|v| v.holds).collect();
    // Overloaded: availability and latency fail; one worker is not better than two; two workers
    // (rho = 0.6) keep availability.
    assert_eq!(holds, [false, false, false, true], "{:#?}", outcome.summary.expectations);
    assert!(!outcome.all_hold);
    let availability = &outcome.summary.expectations[0];
    assert!(availability.measured.starts_with("0% of runs (0/8)"), "{}", availability.measured);
}

#[test]
fn every_catalog_scenario_passes_its_own_expectations() {
    let mut files = crate::determinism::walk(&repo_path("scenarios"));
    files.sort();
    let mut checked = 0;
    for path in files {
        let study = faultline::load_study(&path).unwrap_or_else(|e| panic!("{e}"));
        if study.spec.expect.is_empty() {
            continue;
        }
        let outcome = faultline::check(&path, &SweepOptions::default()).unwrap();
        assert!(
            outcome.all_hold,
            "{} fails its expectations; reproduce with: faultline check {}\n{}",
            path.display(),
            path.display(),
            reports::table::render_summary(&outcome.summary)
        );
        checked += 1;
    }
    assert!(checked >= 1);
}
