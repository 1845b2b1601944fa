//! Golden tests of the transient models (`tbf1`, `tbf2`, NVBitFI's bit flips): small
//! hand-written kernels whose threads record every value of the instruction under test,
//! instrumented, run on the virtual GPU with one flip armed; exactly one recorded word
//! differs from the fault-free run, by exactly the mask. Also: a flip in a dead value is
//! masked, the instrumented PTX passes ptxas, and campaigns draw NVBitFI's masks over
//! the run's thread-instructions.

use gpu::{Device, DeviceExt, KernelArg, LaunchConfig, Platform, SimDevice, SimSpec};
use injector::{
    activations, arm, injection_rng, instrument, profile_sites, sample_with, FaultSpec,
    Instrumented, Model, Params, Sampling, SamplingRules, Subject, Target, WorkloadSubject,
};
use ptx::ptxas::PtxasOptions;
use reports::Outcome;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

const HEADER: &str = ".version 8.0\n.target sm_80\n.address_size 64\n";

/// Every thread `g` (2 CTAs of 64) runs 4 iterations `j`; iteration `j` computes
/// `v = 4g + j + val` with `add.u32` (the site under test) and stores it at
/// `out[4g + j]`. `%dead` is computed (`mul.lo.u32`) and never read. Odd threads also
/// compute `w = v ^ 0xff` with a guarded `xor.b32` and store it at `out[512 + 4g + j]`
/// (even threads store their unchanged `w = 0`).
const LOOP: &str = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .pred %odd, %more;
    .reg .b32 %t, %c, %n, %g, %base, %j, %v, %w, %dead, %par, %i;
    .reg .b64 %out, %off, %addr;
    ld.param.u64 %out, [out];
    ld.param.u32 %v, [val];
    mov.u32 %t, %tid.x;
    mov.u32 %c, %ctaid.x;
    mov.u32 %n, %ntid.x;
    mad.lo.u32 %g, %c, %n, %t;
    shl.b32 %base, %g, 2;
    and.b32 %par, %t, 1;
    setp.ne.u32 %odd, %par, 0;
    mov.u32 %j, 0;
$loop:
    add.u32 %i, %base, %j;
    add.u32 %w, %i, %v;
    mul.wide.u32 %off, %i, 4;
    add.s64 %addr, %out, %off;
    st.global.u32 [%addr], %w;
    mov.u32 %w, 0;
    @%odd xor.b32 %w, %i, 255;
    st.global.u32 [%addr+2048], %w;
    mul.lo.u32 %dead, %w, 7;
    add.u32 %j, %j, 1;
    setp.lt.u32 %more, %j, 4;
    @%more bra $loop;
    ret;
}
"#;

/// Thread `g` (one CTA of 32): a 64-bit product, a vector unpack, a float; each stored.
/// out[0..64): `mul.wide.u32 %d, %g, 0x10001` (u64 per thread); out[64..128): the two
/// halves `{%lo, %hi}` of `%d`; out[128..160): `cvt.rn.f32.u32 %f, %g`.
const WIDE: &str = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .b32 %g, %lo, %hi;
    .reg .f32 %f;
    .reg .b64 %out, %d, %off, %addr;
    ld.param.u64 %out, [out];
    mov.u32 %g, %tid.x;
    mul.wide.u32 %d, %g, 65537;
    mul.wide.u32 %off, %g, 8;
    add.s64 %addr, %out, %off;
    st.global.u64 [%addr], %d;
    mov.b64 {%lo, %hi}, %d;
    st.global.v2.u32 [%addr+256], {%lo, %hi};
    cvt.rn.f32.u32 %f, %g;
    mul.wide.u32 %off, %g, 4;
    add.s64 %addr, %out, %off;
    st.global.f32 [%addr+512], %f;
    ret;
}
"#;

fn module(kernel: &str) -> ptx::Module {
    let src = format!("{HEADER}{kernel}");
    ptx::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

/// The number of the site with opcode group `op` (the `nth` of them, 0-based).
fn site_of(inst: &Instrumented, op: &str, nth: usize) -> usize {
    inst.sites
        .iter()
        .enumerate()
        .filter(|(_, s)| s.op_group == op)
        .nth(nth)
        .unwrap_or_else(|| panic!("no site #{nth} of {op}: {:?}", inst.sites))
        .0
}

/// A device holding `inst`, and a closure running `k` with `spec` armed (or disabled):
/// `words` words of the output and the activation count.
struct Bench {
    dev: Box<dyn Device>,
    m: gpu::ModuleHandle,
    grid: u32,
    block: u32,
    words: usize,
}

impl Bench {
    fn new(inst: &Instrumented, grid: u32, block: u32, words: usize) -> Bench {
        let mut dev = Platform::new().open(&"sim".parse().unwrap()).unwrap();
        let m = dev
            .load(&inst.ptx())
            .unwrap_or_else(|e| panic!("{e}\n{}", inst.ptx()));
        Bench {
            dev,
            m,
            grid,
            block,
            words,
        }
    }

    fn run(&mut self, spec: Option<&FaultSpec>) -> (Vec<u32>, u64) {
        arm(self.dev.as_mut(), self.m, spec).unwrap();
        let out = self.dev.alloc_zeroed::<u32>(self.words).unwrap();
        self.dev
            .launch(
                self.m,
                "k",
                &LaunchConfig::linear(self.grid, self.block),
                &[KernelArg::Ptr(out.ptr), KernelArg::U32(5)],
            )
            .unwrap();
        let words = self.dev.download::<u32>(out, self.words).unwrap();
        (words, activations(self.dev.as_mut(), self.m).unwrap())
    }
}

/// The words where `got` differs from `want`, with the xor of the two.
fn diff(want: &[u32], got: &[u32]) -> Vec<(usize, u32)> {
    want.iter()
        .zip(got)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(k, (a, b))| (k, a ^ b))
        .collect()
}

#[test]
fn every_instance_of_a_site_is_flipped_alone_and_each_exactly_once() {
    let inst = instrument(&module(LOOP), Model::Tbf1).unwrap();
    let site = site_of(&inst, "add.u32", 1); // add.u32 %w, %i, %v
    let mut b = Bench::new(&inst, 2, 64, 1024);
    let (golden, count) = b.run(None);
    assert_eq!(count, 0);
    for g in 0..128usize {
        for j in 0..4 {
            assert_eq!(golden[4 * g + j], (4 * g + j) as u32 + 5);
        }
    }
    // 128 threads × 4 iterations: instances 0..512, each hits one recorded value
    let mut hit = BTreeSet::new();
    for n in 0..512u64 {
        let bit = n % 32;
        let spec = FaultSpec::parse(&format!(
            "tbf1:site={site},inst={n},mask={:#x}",
            1u64 << bit
        ))
        .unwrap();
        let (got, count) = b.run(Some(&spec));
        let d = diff(&golden, &got);
        assert_eq!(d.len(), 1, "instance {n}: {d:?}");
        let (word, x) = d[0];
        assert!(
            word < 512,
            "instance {n} changed word {word}, not a value of the site"
        );
        assert_eq!(x, 1 << bit, "instance {n}: flipped {x:#x}");
        assert_eq!(count, 1, "instance {n}: one warp-instruction corrupted");
        assert!(
            hit.insert(word),
            "instance {n} hit word {word} a second time"
        );
    }
    assert_eq!(hit.len(), 512, "every execution is some instance");
    // past the last execution: never activated, nothing changes
    let spec = FaultSpec::parse(&format!("tbf1:site={site},inst=512,mask=0x1")).unwrap();
    assert_eq!(b.run(Some(&spec)), (golden, 0));
}

#[test]
fn a_guarded_site_counts_only_the_lanes_whose_guard_holds() {
    let inst = instrument(&module(LOOP), Model::Tbf1).unwrap();
    let site = site_of(&inst, "xor.b32", 0); // @%odd xor.b32 %w, %i, 255
    assert!(inst.sites[site].info.guarded);
    let mut b = Bench::new(&inst, 2, 64, 1024);
    let (golden, _) = b.run(None);
    let mut hit = BTreeSet::new();
    // 64 odd threads × 4 iterations execute it
    for n in 0..256u64 {
        let spec = FaultSpec::parse(&format!("tbf1:site={site},inst={n},mask=0x100")).unwrap();
        let (got, count) = b.run(Some(&spec));
        let d = diff(&golden, &got);
        assert_eq!(d.len(), 1, "instance {n}: {d:?}");
        let (word, x) = d[0];
        assert_eq!(x, 0x100);
        let (g, _j) = ((word - 512) / 4, (word - 512) % 4);
        assert!(
            word >= 512 && g % 2 == 1,
            "instance {n} hit word {word}: an even thread"
        );
        assert_eq!(count, 1);
        hit.insert(word);
    }
    assert_eq!(hit.len(), 256);
    let spec = FaultSpec::parse(&format!("tbf1:site={site},inst=256,mask=0x1")).unwrap();
    assert_eq!(b.run(Some(&spec)), (golden, 0), "only 256 executions");
}

#[test]
fn a_flip_in_a_dead_value_is_masked() {
    let inst = instrument(&module(LOOP), Model::Tbf2).unwrap();
    let site = site_of(&inst, "mul.lo.u32", 0); // mul.lo.u32 %dead, %w, 7
    let mut b = Bench::new(&inst, 2, 64, 1024);
    let (golden, _) = b.run(None);
    for n in [0u64, 77, 511] {
        let spec = FaultSpec::parse(&format!("tbf2:site={site},inst={n},mask=0xc0000")).unwrap();
        // activated (the value changed) and the output is the fault-free one: masked
        assert_eq!(b.run(Some(&spec)), (golden.clone(), 1), "instance {n}");
    }
}

#[test]
fn two_bit_masks_flip_two_bits_and_wide_and_vector_destinations_flip_the_chosen_register() {
    let inst = instrument(&module(WIDE), Model::Tbf2).unwrap();
    let wide = site_of(&inst, "mul.wide.u32", 0);
    let unpack = site_of(&inst, "mov.b64", 0);
    let float = site_of(&inst, "cvt.f32.u32", 0);
    assert_eq!(inst.sites[unpack].info.variants, vec![32, 32]);
    assert_eq!(inst.sites[wide].info.variants, vec![64]);
    let mut b = Bench::new(&inst, 1, 32, 160);
    let (golden, _) = b.run(None);
    let mut flip = |spec: &str| {
        let (got, count) = b.run(Some(&FaultSpec::parse(spec).unwrap()));
        assert_eq!(count, 1, "{spec}");
        diff(&golden, &got)
    };
    // One warp of 32 lanes executes each site once, lane by lane: instance n is lane n.
    // The high half of thread 3's 64-bit product: word 7, and the high word of the
    // pair unpacked from it (word 64 + 7)
    assert_eq!(
        flip(&format!("tbf2:site={wide},inst=3,mask=0x300000000")),
        vec![(7, 0x3), (71, 0x3)]
    );
    // element 1 (the high word) of thread 9's unpack alone, then element 0
    assert_eq!(
        flip(&format!("tbf2:site={unpack},inst=9,dest=1,mask=0x6")),
        vec![(64 + 19, 0x6)]
    );
    assert_eq!(
        flip(&format!("tbf2:site={unpack},inst=9,dest=0,mask=0x6")),
        vec![(64 + 18, 0x6)]
    );
    // the sign and the top exponent bit of thread 30's float
    assert_eq!(
        flip(&format!("tbf2:site={float},inst=30,mask=0xc0000000")),
        vec![(128 + 30, 0xc000_0000)]
    );
}

#[test]
fn specs_read_write_and_refuse_what_a_transient_fault_does_not_have() {
    for s in [
        "tbf1:site=3,inst=4711,dest=0,mask=0x100",
        "tbf2:site=0,inst=0,mask=0x180000000",
    ] {
        let spec = FaultSpec::parse(s).unwrap();
        assert_eq!(spec.to_string(), s);
        assert_eq!(FaultSpec::parse(&spec.to_json()).unwrap(), spec);
        assert_eq!((spec.sm, spec.sp, spec.warps, spec.lanes), (0, 0, !0, !0));
    }
    // the JSON form may leave the site selection out
    let j = FaultSpec::parse(r#"{"model":"tbf1","params":{"site":2,"inst":9,"mask":1}}"#).unwrap();
    assert_eq!(j.to_string(), "tbf1:site=2,inst=9,mask=0x1");
    let e = |s: &str| FaultSpec::parse(s).unwrap_err().to_string();
    assert!(e("tbf1:sm=3,site=1,inst=0,mask=1").contains("`sm` does not apply to model `tbf1`"));
    assert!(e("tbf1:site=1,inst=0,mask=0x3").contains("tbf1 flips one bit"));
    assert!(e("tbf2:site=1,inst=0,mask=0x1").contains("tbf2 flips two bits"));
    assert!(e("tbf1:site=1,mask=0x1").contains("needs `inst`"));
    assert!(e("tbf1:site=4294967296,inst=0,mask=1").contains("out of range"));
    assert!(
        e(r#"{"model":"tbf1","sm":2,"params":{"site":2,"inst":9,"mask":1}}"#)
            .contains("a transient fault has no hardware site")
    );
    assert!(e("iat:sm=1,inst=3").contains("`inst` does not apply to model `iat`"));
}

#[test]
fn instrumented_ptx_passes_ptxas() {
    let ptxas = ptx::ptxas::find_in_workspace().unwrap_or_else(|e| {
        panic!("ptxas not found ({e}): run scripts/install-tools.sh or set PTXAS")
    });
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("transient-ptxas");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    let mut sources: Vec<(String, ptx::Module)> =
        vec![("loop".into(), module(LOOP)), ("wide".into(), module(WIDE))];
    for w in workloads::all() {
        sources.push((w.meta().name.into(), ptx::parse(w.ptx()).unwrap()));
    }
    for (name, m) in &sources {
        let one = instrument(m, Model::Tbf1).unwrap();
        // the mask is the descriptor's: both models instrument alike
        assert_eq!(
            one.ptx(),
            instrument(m, Model::Tbf2).unwrap().ptx(),
            "{name}"
        );
        assert!(!one.sites.is_empty(), "{name}");
        let file = dir.join(format!("{name}.tbf.ptx"));
        std::fs::write(&file, one.ptx()).unwrap();
        files.push((name.clone(), file));
    }
    let mut failures = Vec::new();
    for (name, file) in &files {
        for gpu in ["sm_80", "sm_90"] {
            let mut opts = PtxasOptions::new(gpu);
            opts.opt_level = Some(0);
            opts.timeout = std::time::Duration::from_secs(600);
            match ptxas.check_file(file, &opts) {
                Ok(r) if r.verdict.accepted() => {}
                other => failures.push(format!("{name} {gpu}: {other:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn sim() -> SimDevice {
    SimDevice::open(&SimSpec {
        profile: None,
        count: None,
        index: None,
        scheduling_seed: None,
    })
    .unwrap()
}

#[test]
fn campaigns_draw_nvbitfi_masks_over_the_runs_thread_instructions() {
    let w = workloads::by_name("gemm_tiled").unwrap();
    let subject: Arc<dyn Subject> = Arc::new(WorkloadSubject::of(w, None, 1).unwrap());
    let module = ptx::parse(w.ptx()).unwrap();
    for model in Model::TRANSIENT {
        let inst = instrument(&module, model).unwrap();
        let mut dev = sim();
        let profile = profile_sites(&mut dev, subject.as_ref(), &inst).unwrap();
        let total: u64 = profile.sites.iter().map(|s| s.thread_instructions).sum();
        assert!(total > 0);
        let mut per_site = vec![0u64; profile.sites.len()];
        let draws = 4000;
        for i in 0..draws {
            let mut rng = injection_rng(9, "gemm_tiled", model, i);
            // the sampling mode does not matter to a transient fault
            let spec = sample_with(
                &profile,
                Sampling::Physical,
                &SamplingRules::faithful(),
                &mut rng,
            )
            .unwrap();
            spec.validate().unwrap();
            let (Params::Tbf1(p) | Params::Tbf2(p)) = &spec.params else {
                panic!("{spec}")
            };
            let site = p.site.unwrap() as usize;
            let es = &profile.sites[site];
            assert!(p.inst.unwrap() < es.thread_instructions, "{spec}");
            let widths = &es.site.info.variants;
            let dest = p.dest.unwrap() as usize;
            let m = p.mask.unwrap();
            assert!(
                widths[dest] == 64 || m >> widths[dest] == 0,
                "{spec}: {widths:?}"
            );
            // one 32-bit register: both bits in the same half, adjacent for tbf2
            let half = m.trailing_zeros() / 32;
            assert_eq!((63 - m.leading_zeros()) / 32, half, "{spec}");
            match model {
                Model::Tbf1 => assert_eq!(m.count_ones(), 1, "{spec}"),
                _ => assert_eq!(m >> m.trailing_zeros(), 3, "{spec}: adjacent bits"),
            }
            per_site[site] += 1;
        }
        // sites are drawn in proportion to their executions: the busiest within ±25%
        let (busiest, _) = profile
            .sites
            .iter()
            .enumerate()
            .max_by_key(|(_, s)| s.thread_instructions)
            .unwrap();
        let want = draws as f64 * profile.sites[busiest].thread_instructions as f64 / total as f64;
        let got = per_site[busiest] as f64;
        assert!(
            (got - want).abs() < 0.25 * want + 10.0,
            "{model}: {got} vs {want}"
        );
        // sites that never ran are never drawn
        for (s, n) in profile.sites.iter().zip(&per_site) {
            assert!(s.thread_instructions > 0 || *n == 0);
        }
        // every drawn fault activates (gemm_tiled guards no site of the model) and
        // flips one value once
        let target = Target::new(&mut dev, subject.clone(), inst).unwrap();
        let mut sdc = 0;
        for i in 0..40 {
            let mut rng = injection_rng(9, "gemm_tiled", model, i);
            let spec = sample_with(
                &profile,
                Sampling::Exercised,
                &SamplingRules::faithful(),
                &mut rng,
            )
            .unwrap();
            let r = target.inject(&mut dev, &spec).unwrap();
            let guarded = {
                let (Params::Tbf1(p) | Params::Tbf2(p)) = &spec.params else {
                    unreachable!()
                };
                profile.sites[p.site.unwrap() as usize].site.info.guarded
            };
            if !guarded {
                assert_eq!(r.activations, Some(1), "{spec}: {:?}", r.outcome);
            }
            sdc += u32::from(matches!(r.outcome, Outcome::Sdc { .. }));
        }
        assert!(sdc > 0, "{model}: no SDC in 40 flips of gemm_tiled");
    }
}

#[test]
fn coverage_campaigns_refuse_transient_models() {
    let mut c = injector::CampaignConfig::new(
        injector::workload_refs(&["vecadd"], &Default::default()).unwrap(),
        vec![Model::Iat, Model::Tbf2],
        injector::Injections::Fixed { n: 1 },
    );
    c.kind = injector::CampaignKind::Coverage;
    c.sampling = Sampling::Physical;
    c.rules = SamplingRules::v1();
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("--models") && e.contains("`tbf2` is a transient fault model"),
        "{e}"
    );
    // nor does a faulty virtual GPU carry one
    let spec = FaultSpec::parse("tbf1:site=0,inst=0,mask=0x1").unwrap();
    let e = injector::platform_with_fault(&"sim:h100#1".parse().unwrap(), &spec)
        .err()
        .unwrap();
    assert!(e.contains("`tbf1` is a transient fault model"), "{e}");
    // `all` is the permanent models
    assert!(!injector::parse_models("all")
        .unwrap()
        .iter()
        .any(|m| m.is_transient()));
    assert_eq!(
        injector::parse_models("tbf1,tbf2").unwrap(),
        vec![Model::Tbf1, Model::Tbf2]
    );
}
