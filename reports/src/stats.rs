//! Statistics across runs: means with Student-t confidence intervals.
//!
//! Runs of one scenario with different seeds are independent, so the mean of a per-run metric has
//! a t-distributed error with `n - 1` degrees of freedom. The quantile is computed, not tabled.
//!
//! **Architecture invariant:** a leaf. Plain numbers in, plain numbers out; it knows nothing of
//! runs, variants or metrics, so the summary, the comparisons and the verdicts all build on it.

/// Confidence level of every interval in a summary, a comparison and a verdict.
pub const CONFIDENCE: f64 = 0.95;

/// Mean, sample standard deviation and the half-width of the two-sided confidence interval.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
    pub half_width: f64,
}

impl Estimate {
    /// Estimates the mean of `xs` with a two-sided interval at `confidence` (e.g. 0.95).
    pub fn of(xs: &[f64], confidence: f64) -> Estimate {
        let n = xs.len();
        assert!(n >= 2, "a confidence interval needs at least two runs");
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        let t = t_quantile(1.0 - (1.0 - confidence) / 2.0, (n - 1) as f64);
        Estimate {
            n,
            mean,
            sd,
            half_width: t * sd / (n as f64).sqrt(),
        }
    }

    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }

    pub fn contains(&self, x: f64) -> bool {
        self.low() <= x && x <= self.high()
    }
}

/// Mean and [`CONFIDENCE`] interval of the finite values; `None` below two values.
pub fn estimate(values: &[f64]) -> Option<Estimate> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    (finite.len() >= 2).then(|| Estimate::of(&finite, CONFIDENCE))
}

/// Quantile `p` of the standard normal distribution (Acklam's rational approximation, relative
/// error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "quantile of {p}");
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Quantile `p` of Student's t with `df` degrees of freedom, by the Cornish-Fisher expansion
/// around the normal quantile (accurate to about 1e-3 for df >= 5 at the quantiles used here).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df.powi(2))
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df.powi(3))
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / (92160.0 * df.powi(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_tables() {
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-6);
        assert!((normal_quantile(0.0005) + 3.290527).abs() < 1e-5);
        // Values from standard t tables.
        for (p, df, t) in [
            (0.975, 29.0, 2.045230),
            (0.9995, 29.0, 3.659410),
            (0.975, 9.0, 2.262157),
            (0.995, 19.0, 2.860935),
        ] {
            assert!(
                (t_quantile(p, df) - t).abs() < 2e-3,
                "t({p}, {df}) = {} not {t}",
                t_quantile(p, df)
            );
        }
    }

    #[test]
    fn interval_of_known_data() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert_eq!(e.mean, 3.0);
        assert!((e.sd - 1.5811388).abs() < 1e-6);
        // t(0.975, 4) = 2.776445
        assert!((e.half_width - 2.776445 * 1.5811388 / 5f64.sqrt()).abs() < 5e-3);
    }
}
