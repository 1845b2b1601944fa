//! The `Workload` trait and the registry of all workloads.

use gpu::{Device, ModuleHandle};

use crate::compare::{compare_arrays, Comparison, Tolerance};
use crate::data::{Inputs, Outputs};
use crate::error::{InputError, RunError};
use crate::meta::Meta;
use crate::suite;

/// A CUDA program with everything a fault campaign needs to run and judge it.
///
/// The caller loads the module (the workload's [`ptx`](Workload::ptx), or an
/// instrumented version of it) and passes its handle to [`run`](Workload::run), so one
/// load serves many runs.
pub trait Workload: Sync {
    /// Name, kind, kernels, sizes, outputs and tolerances.
    fn meta(&self) -> &'static Meta;

    /// The checked-in PTX of its kernels.
    fn ptx(&self) -> &'static str {
        self.meta().ptx
    }

    /// Seeded inputs of the given size: identical bits on every machine for the same
    /// `(size, seed)`.
    fn generate(&self, size: usize, seed: u64) -> Result<Inputs, InputError>;

    /// Runs the host driver: uploads `inputs`, launches the kernels of `module` in the
    /// algorithm's order, and downloads the outputs. Frees what it allocated, also on
    /// error.
    fn run(
        &self,
        dev: &mut dyn Device,
        module: ModuleHandle,
        inputs: &Inputs,
    ) -> Result<Outputs, RunError>;

    /// The CPU reference implementation.
    fn reference(&self, inputs: &Inputs) -> Result<Outputs, InputError>;

    /// Compares device outputs with the CPU reference's, each output with the
    /// tolerance of its [`OutputSpec`](crate::OutputSpec).
    fn compare(&self, expected: &Outputs, got: &Outputs) -> Comparison {
        let meta = self.meta();
        compare_arrays(&expected.arrays, &got.arrays, |name| meta.tolerance(name))
    }

    /// Compares a (faulty) run with a golden run of the same module on the same device:
    /// bit-exact, because every workload is deterministic on a given device (no float
    /// atomics; results of integer atomics do not depend on their order).
    fn compare_golden(&self, golden: &Outputs, got: &Outputs) -> Comparison {
        compare_arrays(&golden.arrays, &got.arrays, |_| Tolerance::Exact)
    }
}

/// Every workload, in a fixed order.
pub fn all() -> &'static [&'static dyn Workload] {
    suite::ALL
}

/// The workload called `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Workload> {
    all().iter().copied().find(|w| w.meta().name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Verdict;

    #[test]
    fn names_are_unique_and_found_by_name() {
        let mut names: Vec<&str> = all().iter().map(|w| w.meta().name).collect();
        assert_eq!(names.len(), 16);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 16);
        for n in names {
            assert_eq!(by_name(n).unwrap().meta().name, n);
        }
        assert!(by_name("nope").is_none());
    }

    #[test]
    fn sizes_are_valid_and_out_of_range_sizes_are_rejected() {
        for w in all() {
            let s = &w.meta().size;
            for size in [s.default, s.gpu, s.min, s.max] {
                assert!(s.check("t", size).is_ok(), "{}: size {size}", w.meta().name);
            }
            assert!(s.default < s.gpu, "{}", w.meta().name);
            assert!(w.generate(s.max + 1, 0).is_err(), "{}", w.meta().name);
            if s.min > 0 {
                assert!(w.generate(s.min - 1, 0).is_err(), "{}", w.meta().name);
            }
        }
    }

    #[test]
    fn inputs_are_deterministic_and_depend_on_the_seed() {
        for w in all() {
            let n = w.meta().size.default;
            let a = w.generate(n, 1).unwrap();
            assert_eq!(a, w.generate(n, 1).unwrap(), "{}", w.meta().name);
            assert_ne!(
                a.arrays,
                w.generate(n, 2).unwrap().arrays,
                "{}",
                w.meta().name
            );
        }
    }

    #[test]
    fn reference_outputs_are_the_declared_outputs() {
        for w in all() {
            let m = w.meta();
            let inputs = w.generate(m.size.default, 3).unwrap();
            let out = w.reference(&inputs).unwrap();
            let got: Vec<_> = out
                .arrays
                .iter()
                .map(|(n, d)| (n.to_string(), d.dtype()))
                .collect();
            let want: Vec<_> = m
                .outputs
                .iter()
                .map(|o| (o.name.to_string(), o.dtype))
                .collect();
            assert_eq!(got, want, "{}", m.name);
            assert!(out.arrays.iter().all(|(_, d)| !d.is_empty()), "{}", m.name);
            assert_eq!(w.compare(&out, &out.clone()).verdict, Verdict::Identical);
        }
    }

    #[test]
    fn comparators_flag_a_single_corrupted_element() {
        for w in all() {
            let m = w.meta();
            let inputs = w.generate(m.size.default, 4).unwrap();
            let golden = w.reference(&inputs).unwrap();
            let (name, data) = golden.arrays.iter().next().unwrap();
            let mut bad = data.clone();
            match &mut bad {
                crate::Data::U32(v) => v[0] ^= 1 << 7,
                crate::Data::I32(v) => v[0] ^= 1 << 7,
                crate::Data::F32(v) => v[0] = -v[0] * 2.0 - 1.0,
                crate::Data::F64(v) => v[0] = -v[0] * 2.0 - 1.0,
                other => unreachable!("no workload outputs {}", other.dtype()),
            }
            let mut faulty = golden.clone();
            faulty.arrays.insert(name, bad);
            for c in [
                w.compare(&golden, &faulty),
                w.compare_golden(&golden, &faulty),
            ] {
                assert_eq!(c.verdict, Verdict::Different, "{}", m.name);
                assert_eq!(c.magnitude.elements, 1, "{}", m.name);
                assert!(c.magnitude.flipped_bits >= 1);
            }
        }
    }

    #[test]
    fn inputs_of_the_wrong_shape_are_rejected() {
        for w in all() {
            let m = w.meta();
            let mut inputs = w.generate(m.size.default, 5).unwrap();
            let (name, data) = {
                let (n, d) = inputs.arrays.iter().next().unwrap();
                (n.to_string(), d.clone())
            };
            let truncated = match data {
                crate::Data::U32(mut v) => crate::Data::U32({
                    v.pop();
                    v
                }),
                crate::Data::I32(mut v) => crate::Data::I32({
                    v.pop();
                    v
                }),
                crate::Data::F32(mut v) => crate::Data::F32({
                    v.pop();
                    v
                }),
                crate::Data::F64(mut v) => crate::Data::F64({
                    v.pop();
                    v
                }),
                other => unreachable!("no workload takes {}", other.dtype()),
            };
            inputs.arrays.insert(&name, truncated);
            assert!(
                w.reference(&inputs).is_err(),
                "{}: truncated `{name}` accepted",
                m.name
            );
        }
    }
}
