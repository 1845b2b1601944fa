//! Seeded, portable random inputs: ChaCha8 streams and only exactly-rounded arithmetic,
//! so every machine generates the same bits.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng as _, SeedableRng};

/// A seeded generator for one purpose (`stream`) of one workload.
pub(crate) struct Rng(ChaCha8Rng, u64);

impl Rng {
    /// The generator of stream `stream` for `seed`.
    pub(crate) fn new(seed: u64, stream: u64) -> Rng {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stream);
        Rng(r, seed)
    }

    /// The seed it was made from.
    pub(crate) fn seed(&self) -> u64 {
        self.1
    }

    /// The generator of another stream of the same seed.
    pub(crate) fn stream(&self, stream: u64) -> Rng {
        Rng::new(self.1, stream)
    }

    pub(crate) fn u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.u32()) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `[0, 1)` with 24 random bits.
    pub(crate) fn unit_f32(&mut self) -> f32 {
        (self.u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in `[lo, hi)`.
    pub(crate) fn f32_in(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit_f32()
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub(crate) fn unit_f64(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Approximately standard normal (Irwin-Hall sum of 12 uniforms minus 6): no
    /// transcendental functions, so identical on every platform.
    pub(crate) fn normalish(&mut self) -> f32 {
        let mut s = 0.0f32;
        for _ in 0..12 {
            s += self.unit_f32();
        }
        s - 6.0
    }

    /// `n` uniform floats in `[lo, hi)`.
    pub(crate) fn f32_vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32_in(lo, hi)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_same_values_and_streams_differ() {
        let a: Vec<u32> = (0..8)
            .map({
                let mut r = Rng::new(42, 1);
                move |_| r.u32()
            })
            .collect();
        let b: Vec<u32> = (0..8)
            .map({
                let mut r = Rng::new(42, 1);
                move |_| r.u32()
            })
            .collect();
        let c: Vec<u32> = (0..8)
            .map({
                let mut r = Rng::new(42, 2);
                move |_| r.u32()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn chacha8_stream_is_pinned() {
        // Guards the promise "identical inputs on every machine and version": if a
        // dependency update changed the stream, every golden input would change.
        let mut r = Rng::new(0, 0);
        let got: Vec<u32> = (0..4).map(|_| r.u32()).collect();
        assert_eq!(got, PINNED);
    }
    // Recorded from rand_chacha 0.10 (ChaCha8, seed_from_u64(0), stream 0).
    const PINNED: [u32; 4] = [2_811_902_828, 3_045_455_719, 3_134_767_159, 2_001_118_559];

    #[test]
    fn ranges_hold() {
        let mut r = Rng::new(7, 0);
        for _ in 0..10_000 {
            let x = r.f32_in(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&x));
            assert!(r.below(10) < 10);
            let u = r.unit_f64();
            assert!((0.0..1.0).contains(&u));
            let z = r.normalish();
            assert!((-6.0..=6.0).contains(&z));
        }
    }
}
