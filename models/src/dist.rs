//! Distributions of durations, compiled from [`DistSpec`]. This is the one place where floats are
//! sampled; every sample is rounded to whole nanoseconds before it meets the clock.

use crate::spec::DistSpec;
use rand::RngExt;
use rand_distr::{Distribution, Exp, LogNormal};
use sim_core::{SimDuration, Stream};

/// z-score of the 99th percentile of the standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_840_8;

/// A compiled distribution, ready to sample.
#[derive(Clone, Debug)]
pub enum Dist {
    Constant(SimDuration),
    /// Exponential, parameterised in nanoseconds.
    Exponential(Exp<f64>),
    Uniform {
        min_ns: f64,
        span_ns: f64,
    },
    LogNormal(LogNormal<f64>),
    /// (quantile, value in ns) points, quantiles rising from 0 to 1.
    Empirical(Vec<(f64, f64)>),
}

impl Dist {
    /// Compiles a validated spec. Callers validate first with [`check`]; this returns `None` for a
    /// spec that `check` would reject.
    pub fn new(spec: &DistSpec) -> Option<Dist> {
        if check(spec).is_some() {
            return None;
        }
        Some(match spec {
            DistSpec::Constant(d) => Dist::Constant(d.0),
            DistSpec::Exponential { mean } => Dist::Exponential(Exp::new(1.0 / ns(mean.0)).ok()?),
            DistSpec::Uniform { min, max } => Dist::Uniform {
                min_ns: ns(min.0),
                span_ns: ns(max.0) - ns(min.0),
            },
            DistSpec::LogNormal { median, p99 } => {
                let mu = ns(median.0).ln();
                let sigma = (ns(p99.0).ln() - mu) / Z_P99;
                Dist::LogNormal(LogNormal::new(mu, sigma).ok()?)
            }
            DistSpec::Empirical(points) => {
                Dist::Empirical(points.iter().map(|(q, d)| (*q, ns(d.0))).collect())
            }
        })
    }

    /// Draws one duration.
    #[inline]
    pub fn sample(&self, rng: &mut Stream) -> SimDuration {
        let x = match self {
            Dist::Constant(d) => return *d,
            Dist::Exponential(e) => e.sample(rng),
            Dist::Uniform { min_ns, span_ns } => min_ns + span_ns * rng.random::<f64>(),
            Dist::LogNormal(l) => l.sample(rng),
            Dist::Empirical(points) => interpolate(points, rng.random::<f64>()),
        };
        to_duration(x)
    }

    /// Whether every sample is zero (lets the model skip an event).
    pub fn is_zero(&self) -> bool {
        matches!(self, Dist::Constant(d) if d.is_zero())
    }
}

/// The mean of a spec in nanoseconds.
pub fn spec_mean_ns(spec: &DistSpec) -> f64 {
    match spec {
        DistSpec::Constant(d) => ns(d.0),
        DistSpec::Exponential { mean } => ns(mean.0),
        DistSpec::Uniform { min, max } => (ns(min.0) + ns(max.0)) / 2.0,
        DistSpec::LogNormal { median, p99 } => {
            let sigma = (ns(p99.0).ln() - ns(median.0).ln()) / Z_P99;
            ns(median.0) * (sigma * sigma / 2.0).exp()
        }
        DistSpec::Empirical(points) => points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (ns(w[0].1 .0) + ns(w[1].1 .0)) / 2.0)
            .sum(),
    }
}

/// Why a spec is not a valid distribution, or `None` when it is.
pub fn check(spec: &DistSpec) -> Option<String> {
    match spec {
        DistSpec::Constant(_) => None,
        DistSpec::Exponential { mean } if mean.0.is_zero() => {
            Some("an exponential distribution needs a mean above zero".into())
        }
        DistSpec::Exponential { .. } => None,
        DistSpec::Uniform { min, max } if min > max => Some(format!(
            "uniform `min` (`{}`) is above `max` (`{}`)",
            min.0, max.0
        )),
        DistSpec::Uniform { .. } => None,
        DistSpec::LogNormal { median, .. } if median.0.is_zero() => {
            Some("a log-normal distribution needs a median above zero".into())
        }
        DistSpec::LogNormal { median, p99 } if p99 < median => Some(format!(
            "log-normal `p99` (`{}`) is below its `median` (`{}`)",
            p99.0, median.0
        )),
        DistSpec::LogNormal { .. } => None,
        DistSpec::Empirical(points) => check_empirical(points),
    }
}

fn check_empirical(points: &[(f64, crate::spec::Dur)]) -> Option<String> {
    if points.len() < 2 {
        return Some(
            "an empirical distribution needs at least two (quantile, value) points".into(),
        );
    }
    let first = points[0].0;
    let last = points[points.len() - 1].0;
    if first != 0.0 || last != 1.0 {
        return Some(format!(
            "empirical quantiles must start at `0.0` and end at `1.0` (they run from `{first}` to `{last}`)"
        ));
    }
    for w in points.windows(2) {
        if w[1].0.partial_cmp(&w[0].0) != Some(std::cmp::Ordering::Greater) {
            return Some(format!(
                "empirical quantiles must rise: `{}` then `{}`",
                w[0].0, w[1].0
            ));
        }
        if w[1].1 < w[0].1 {
            return Some(format!(
                "empirical values must not fall: `{}` then `{}`",
                w[0].1 .0, w[1].1 .0
            ));
        }
    }
    None
}

fn interpolate(points: &[(f64, f64)], u: f64) -> f64 {
    // Points are few (a handful of percentiles), so a linear scan beats a binary search.
    for w in points.windows(2) {
        let ((q0, v0), (q1, v1)) = (w[0], w[1]);
        if u <= q1 {
            return v0 + (v1 - v0) * (u - q0) / (q1 - q0);
        }
    }
    points[points.len() - 1].1
}

fn ns(d: SimDuration) -> f64 {
    d.as_ns() as f64
}

#[inline]
fn to_duration(x_ns: f64) -> SimDuration {
    SimDuration::from_ns(round_ns(x_ns))
}

/// `x.round() as u64`, bit for bit (half away from zero; `as` saturates, NaN is 0), without a
/// call: x86-64's baseline has no rounding instruction, so `f64::round` is a call into libm,
/// and the request path rounds every draw (6% of an M/M/1 run's time went there).
///
/// In `[0, 2^63)` the truncation to `i64` is one exact instruction and `x - trunc(x)` is
/// exact (from 2^52 on, every float is an integer and the difference is 0); everything else
/// (negative, huge, infinite, NaN) takes `f64::round`.
#[inline(always)]
pub fn round_ns(x: f64) -> u64 {
    if (0.0..9_223_372_036_854_775_808.0).contains(&x) {
        let t = x as i64;
        t as u64 + u64::from(x - t as f64 >= 0.5)
    } else {
        x.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Dur;
    use sim_core::RngFactory;

    #[test]
    fn round_ns_is_round_as_u64() {
        let mut edges = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            -0.5,
            -0.7,
            -1e300,
            4503599627370495.5,
            4503599627370497.0,
            9007199254740993.0,
            18446744073709549568.0,
            18446744073709551616.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
        ];
        let mut rng = RngFactory::new(3, 0).stream("test", "round");
        for _ in 0..200_000 {
            let bits = rand::RngExt::random::<u64>(&mut rng);
            edges.push(f64::from_bits(bits));
            let x = rand::RngExt::random::<f64>(&mut rng) * 1e10;
            edges.extend([x, x.floor() + 0.5, x.floor() + 0.5 - f64::EPSILON * x]);
        }
        for x in edges {
            assert_eq!(round_ns(x), x.round() as u64, "{x:e} ({:#x})", x.to_bits());
        }
    }

    fn d(s: &str) -> Dur {
        Dur(SimDuration::parse(s).unwrap())
    }

    fn sample_mean(spec: &DistSpec, n: usize) -> (f64, Vec<u64>) {
        let dist = Dist::new(spec).unwrap();
        let mut rng = RngFactory::new(7, 0).stream("test", "dist");
        let mut xs: Vec<u64> = (0..n).map(|_| dist.sample(&mut rng).as_ns()).collect();
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        xs.sort_unstable();
        (mean, xs)
    }

    #[test]
    fn exponential_mean_within_ci() {
        let n = 200_000;
        let (mean, _) = sample_mean(&DistSpec::Exponential { mean: d("10ms") }, n);
        // For an exponential, sd = mean, so the 99.9% half-width is 3.29 * mean / sqrt(n).
        let half = 3.29 * 10e6 / (n as f64).sqrt();
        assert!((mean - 10e6).abs() < half, "mean {mean}");
    }

    #[test]
    fn lognormal_hits_median_and_p99() {
        let n = 200_000;
        let (_, xs) = sample_mean(
            &DistSpec::LogNormal {
                median: d("2ms"),
                p99: d("10ms"),
            },
            n,
        );
        let q = |p: f64| xs[(p * n as f64) as usize] as f64;
        // Order statistics of 200k samples: the binomial sd of the count below the true
        // quantile is sqrt(n p (1-p)), i.e. about 0.11% of n at the median; 1% bounds are generous
        // and still catch a wrong parameterisation (which misses by tens of percent).
        assert!((q(0.5) / 2e6 - 1.0).abs() < 0.01, "median {}", q(0.5));
        assert!((q(0.99) / 10e6 - 1.0).abs() < 0.03, "p99 {}", q(0.99));
        let mean = spec_mean_ns(&DistSpec::LogNormal {
            median: d("2ms"),
            p99: d("10ms"),
        });
        assert!(mean > 2e6 && mean < 10e6);
    }

    #[test]
    fn empirical_interpolates() {
        let spec = DistSpec::Empirical(vec![(0.0, d("1ms")), (0.5, d("3ms")), (1.0, d("5ms"))]);
        let (mean, xs) = sample_mean(&spec, 100_000);
        assert!(xs[0] >= 1_000_000 && xs[xs.len() - 1] <= 5_000_000);
        assert!((mean / 3e6 - 1.0).abs() < 0.01);
        assert!((spec_mean_ns(&spec) - 3e6).abs() < 1.0);
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(check(&DistSpec::Exponential { mean: d("0") }).is_some());
        assert!(check(&DistSpec::Uniform {
            min: d("2ms"),
            max: d("1ms")
        })
        .is_some());
        assert!(check(&DistSpec::LogNormal {
            median: d("2ms"),
            p99: d("1ms")
        })
        .is_some());
        assert!(check(&DistSpec::Empirical(vec![(0.0, d("1ms"))])).is_some());
        assert!(check(&DistSpec::Empirical(vec![(0.0, d("2ms")), (1.0, d("1ms"))])).is_some());
        assert!(check(&DistSpec::Empirical(vec![(0.1, d("1ms")), (1.0, d("2ms"))])).is_some());
    }
}
