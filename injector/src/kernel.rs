//! Kernel manifests as campaign subjects: inject into any user's kernel described by a
//! TOML manifest ([`workloads::Manifest`], format in `docs/kernels.md`).
//!
//! A [`KernelSubject`] is of kind [`KERNEL_KIND`], named by its manifest, with the
//! manifest's path as its source and the manifest's digest (text, every file it names,
//! NVRTC version and options) as its digest, so a changed manifest or data file cannot
//! be resumed into an old campaign plan. Golden-vs-faulty comparisons use the
//! manifest's per-output rules (exact unless it gives a tolerance).

use std::path::Path;
use std::sync::Arc;

use gpu::{Device, ModuleHandle};
use workloads::{Comparison, Manifest, Outputs, RunError};

use crate::subject::{Subject, SubjectError, SubjectOptions, SubjectRef};

/// The kind of [`KernelSubject`]s.
pub const KERNEL_KIND: &str = "kernel";

/// A kernel manifest, loaded and validated, as a campaign subject.
#[derive(Debug)]
pub struct KernelSubject {
    manifest: Manifest,
    id: SubjectRef,
}

impl KernelSubject {
    /// Loads the manifest at `path` (a `.cu` is compiled with NVRTC).
    pub fn load(path: impl AsRef<Path>) -> Result<KernelSubject, SubjectError> {
        let m = Manifest::load(path).map_err(|e| SubjectError::Other(e.to_string()))?;
        Ok(KernelSubject::new(m))
    }

    /// A subject over a loaded manifest.
    pub fn new(manifest: Manifest) -> KernelSubject {
        let id = SubjectRef {
            kind: KERNEL_KIND.into(),
            name: manifest.name().to_string(),
            source: Some(manifest.path().display().to_string()),
            digest: manifest.digest().to_string(),
        };
        KernelSubject { manifest, id }
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
}

impl Subject for KernelSubject {
    fn id(&self) -> &SubjectRef {
        &self.id
    }
    fn ptx(&self) -> &str {
        self.manifest.ptx()
    }
    fn run(&self, dev: &mut dyn Device, module: ModuleHandle) -> Result<Outputs, RunError> {
        self.manifest.run(dev, module)
    }
    fn compare_golden(&self, golden: &Outputs, got: &Outputs) -> Comparison {
        self.manifest.compare(golden, got)
    }
    fn compare_reference(&self, reference: &Outputs, got: &Outputs) -> Comparison {
        self.manifest.compare(reference, got)
    }
    fn check_reference(&self, got: &Outputs) -> Option<Result<Comparison, String>> {
        self.manifest.check_reference(got).map(Ok)
    }
}

/// The [`SubjectSource`](crate::SubjectSource) opener of kind `kernel`: loads the
/// manifest from the stored source path.
pub(crate) fn open(r: &SubjectRef, _: &SubjectOptions) -> Result<Arc<dyn Subject>, SubjectError> {
    let Some(path) = &r.source else {
        return Err(SubjectError::Other(format!(
            "kernel `{}` has no manifest path in the store",
            r.name
        )));
    };
    Ok(Arc::new(KernelSubject::load(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{instrument, FaultSpec, Model, SubjectSource, Target};
    use reports::Outcome;

    fn example(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/kernels")
            .join(name)
            .join(format!("{name}.toml"))
    }

    #[test]
    fn a_stored_reference_opens_the_same_subject_and_a_changed_digest_is_refused() {
        let s = KernelSubject::load(example("reduction")).unwrap();
        assert_eq!(s.id().kind, "kernel");
        assert_eq!(s.id().name, "reduction");
        let source = SubjectSource::standard();
        let again = source.open(s.id(), &SubjectOptions::default()).unwrap();
        assert_eq!(again.id(), s.id());
        let mut stale = s.id().clone();
        stale.digest = "0".repeat(64);
        let e = source
            .open(&stale, &SubjectOptions::default())
            .err()
            .unwrap();
        assert!(matches!(e, SubjectError::Changed { .. }), "{e:?}");
        assert!(e.to_string().contains("reduction.toml"), "{e}");
        let mut lost = s.id().clone();
        lost.source = Some("no/such/manifest.toml".into());
        let e = source
            .open(&lost, &SubjectOptions::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains("no/such/manifest.toml"), "{e}");
    }

    #[test]
    fn a_fault_in_a_manifest_kernel_is_judged_with_its_rules() {
        let subject: Arc<dyn Subject> = Arc::new(KernelSubject::load(example("saxpy")).unwrap());
        let module = ptx::parse(subject.ptx()).unwrap();
        let mut dev = gpu::Platform::new().open(&"sim".parse().unwrap()).unwrap();
        let inst = instrument(&module, Model::Wdrop).unwrap();
        let t = Target::new(dev.as_mut(), subject.clone(), inst).unwrap();
        // The warp in slot 0 of sub-partition 0 of SM 0 never runs: its 32 elements of
        // `y` keep their inputs, far beyond the 1-ulp tolerance.
        let spec = FaultSpec::parse("wdrop:sm=0,sp=0,warps=0x1").unwrap();
        let inj = t.inject(dev.as_mut(), &spec).unwrap();
        let Outcome::Sdc { magnitude } = inj.outcome else {
            panic!("{inj:?}")
        };
        assert_eq!(magnitude.elements, 32);
        assert_eq!(magnitude.total, 4096);
    }
}
