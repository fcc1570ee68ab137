//! Many runs: every (variant, run index) pair, in parallel on a rayon pool, folded into an
//! [`Aggregate`] as each finishes. Each run is single-threaded and deterministic, and the fold is
//! order-independent, so results do not depend on the number of jobs.

use crate::Error;
use models::variants::Study;
use rayon::prelude::*;
use reports::sweep::{Aggregate, VariantAggregate};
use std::sync::Mutex;

/// How to run a sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Runs per variant; the scenario's `runs` when `None`.
    pub runs: Option<u32>,
    /// Worker threads; all cores when `None`.
    pub jobs: Option<usize>,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
}

/// Runs every variant of `study` over the same run indices (common random numbers) and aggregates.
/// `on_run_done` is called once per finished run, from worker threads (for a progress bar).
pub fn sweep(study: &Study, opts: &SweepOptions, on_run_done: &(dyn Fn() + Sync)) -> Result<Aggregate, Error> {
    let n_runs = opts.runs.unwrap_or(study.spec.runs) as usize;
    if n_runs == 0 {
        return Err(Error::Usage("the number of runs must be at least 1".into()));
    }
    let seed = opts.seed.unwrap_or(study.spec.seed);
    let variants = study
        .designs
        .iter()
        .map(|d| {
            let services = d.world.services.iter().map(|s| s.name.clone()).collect();
            Mutex::new(VariantAggregate::new(&d.name, &d.about, services, n_runs, d.world.resolution.as_ns(), d.world.n_buckets()))
        })
        .collect::<Vec<_>>();
    let tasks: Vec<(usize, u64)> = (0..study.designs.len()).flat_map(|v| (0..n_runs as u64).map(move |k| (v, k))).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {} worker threads: {e}", opts.jobs.unwrap_or(0))))?;
    pool.install(|| {
        tasks.par_iter().try_for_each(|&(v, k)| {
            let world = &study.designs[v].world;
            let (result, histograms) = models::run_world_with_histograms(world, seed, k)?;
            variants[v].lock().expect("no thread panicked holding the lock").add(&result, &histograms);
            on_run_done();
            Ok::<(), Error>(())
        })
    })?;
    Ok(Aggregate {
        scenario: study.spec.name.clone(),
        about: study.spec.about.clone(),
        seed,
        n_runs,
        variants: variants.into_iter().map(|m| m.into_inner().expect("no thread panicked holding the lock")).collect(),
    })
}
