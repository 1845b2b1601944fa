//! Statistics for outcome shares.

use serde::{Deserialize, Serialize};

/// A proportion with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The observed share k/n (0 when n = 0).
    pub p: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// The Wilson score interval for `k` successes in `n` trials at normal quantile `z`
/// (1.96 for 95%). For n = 0 the interval is [0, 1] with p = 0.
pub fn wilson(k: u64, n: u64, z: f64) -> Interval {
    if n == 0 {
        return Interval {
            p: 0.0,
            lo: 0.0,
            hi: 1.0,
        };
    }
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * ((p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt()) / denom;
    Interval {
        p,
        lo: (centre - half).max(0.0),
        hi: (centre + half).min(1.0),
    }
}

/// The normal quantile z for a two-sided confidence level (e.g. 0.95 → 1.95996).
///
/// Uses Acklam's rational approximation of the inverse normal CDF (relative error
/// below 1.2e-9), enough for sample-size planning.
pub fn z_for_confidence(confidence: f64) -> f64 {
    let q = 1.0 - (1.0 - confidence.clamp(1e-9, 1.0 - 1e-12)) / 2.0;
    inverse_normal_cdf(q)
}

fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// Injections per cell needed so that the worst-case (p = 0.5) interval half-width is at
/// most `margin` at the given confidence (normal approximation): ⌈z²/(4·margin²)⌉.
/// 0.031 at 95% gives 1,000 — the SC'23 study's per-cell count.
pub fn sample_size(margin: f64, confidence: f64) -> u64 {
    let z = z_for_confidence(confidence);
    (z * z / (4.0 * margin * margin)).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), Table I: 81/263 → (0.2553, 0.3662) at 95%.
        let ci = wilson(81, 263, 1.959_963_985);
        assert!((ci.lo - 0.2553).abs() < 5e-4, "{ci:?}");
        assert!((ci.hi - 0.3662).abs() < 5e-4, "{ci:?}");
        // 0/10 → (0, 0.2775)
        let ci = wilson(0, 10, 1.959_963_985);
        assert_eq!(ci.lo, 0.0);
        assert!((ci.hi - 0.2775).abs() < 5e-4, "{ci:?}");
        assert_eq!(wilson(0, 0, 1.96).hi, 1.0);
    }

    #[test]
    fn quantiles_and_sample_sizes() {
        assert!((z_for_confidence(0.95) - 1.959_964).abs() < 1e-5);
        assert!((z_for_confidence(0.99) - 2.575_829).abs() < 1e-5);
        assert_eq!(sample_size(0.031, 0.95), 1000);
        assert_eq!(sample_size(0.03, 0.95), 1068);
    }
}
