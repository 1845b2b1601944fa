//! With the fault descriptor disabled, every instrumented workload computes exactly what
//! the original computes (bit for bit, on the virtual GPU), for every model.

use gpu::Platform;
use injector::{instrument, Model, Subject, Target, WorkloadSubject};
use std::sync::Arc;

#[test]
fn instrumented_workloads_with_the_fault_disabled_equal_the_originals() {
    let platform = Platform::new();
    let mut report = Vec::new();
    for w in workloads::all() {
        let meta = w.meta();
        let module = ptx::parse(w.ptx()).unwrap();
        let inputs = w.generate(meta.size.default, 1).unwrap();
        let subject: Arc<dyn Subject> = Arc::new(WorkloadSubject::of(*w, None, 1).unwrap());
        let mut dev = platform.open(&"sim".parse().unwrap()).unwrap();
        let original = {
            let m = dev.load(w.ptx()).unwrap();
            w.run(dev.as_mut(), m, &inputs)
                .unwrap()
                .stats
                .instructions
                .unwrap()
        };
        for model in Model::EVERY {
            let inst = instrument(&module, model).unwrap();
            // Target::new runs the original and the disabled instrumented module and
            // fails unless their outputs are bit-identical.
            let t = Target::new(dev.as_mut(), subject.clone(), inst)
                .unwrap_or_else(|e| panic!("{}/{model}: {e}", meta.name));
            let ratio = t.dry_instructions().unwrap() as f64 / original as f64;
            report.push(format!("{}/{model}: {ratio:.3}x", meta.name));
            assert!(
                ratio >= 1.0,
                "{}/{model}: instrumentation cannot remove work",
                meta.name
            );
        }
    }
    eprintln!("{}", report.join("\n"));
}
