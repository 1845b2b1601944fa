//! Kernel manifests end to end: the examples in `examples/kernels/` run on the virtual
//! GPU and match their reference files; a manifest for a `.cu` written on the fly runs;
//! bad manifests give errors with the file, line:column and field.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use gpu::Device;
use workloads::{Code, Data, Manifest, ManifestError, Outputs, Verdict};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kernels")
}

fn sim() -> Box<dyn Device + Send> {
    gpu::Platform::new().open(&"sim".parse().unwrap()).unwrap()
}

/// Loads, runs twice on the virtual GPU, checks the reference and the determinism.
fn run_example(name: &str) -> (Manifest, Outputs) {
    let path = examples().join(name).join(format!("{name}.toml"));
    let m = Manifest::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.name(), name);
    let mut dev = sim();
    let module = dev.load(m.ptx()).unwrap();
    let got = m
        .run(dev.as_mut(), module)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let c = m
        .check_reference(&got)
        .expect("every example has a reference");
    assert!(!c.is_different(), "{name} vs reference: {c}");
    let again = m.run(dev.as_mut(), module).unwrap();
    assert_eq!(m.compare(&got, &again).verdict, Verdict::Identical);
    (m, got)
}

#[test]
fn saxpy_from_cu_matches_its_reference() {
    let (m, got) = run_example("saxpy");
    assert!(matches!(m.code(), Code::Cu { nvrtc, .. } if nvrtc.0 >= 12));
    assert_eq!(got.stats.launches, 1);
    // Not vacuous: the outputs moved away from the initial `y`.
    let y0 = m.buffers()[1].initial();
    assert_ne!(got.arrays.get("y"), Some(&y0));
}

#[test]
fn reduction_from_ptx_matches_its_references() {
    let (m, got) = run_example("reduction");
    assert!(matches!(m.code(), Code::Ptx(p) if p == "reduction.ptx"));
    let Some(Data::U64(total)) = got.arrays.get("total") else {
        panic!("{got:?}")
    };
    let Data::U32(data) = m.buffers()[0].initial() else {
        panic!()
    };
    assert_eq!(total[0], data.iter().map(|&x| u64::from(x)).sum::<u64>());
}

#[test]
fn two_launch_pipeline_matches_its_reference() {
    let (m, got) = run_example("pipeline");
    assert_eq!(m.kernels().collect::<Vec<_>>(), ["affine_clamp", "blur3x3"]);
    assert_eq!(got.stats.launches, 2);
}

#[test]
fn a_corrupted_output_is_different_from_the_reference_and_the_golden_run() {
    let (m, got) = run_example("saxpy");
    let mut bad = got.clone();
    let Some(Data::F32(y)) = bad.arrays.get("y").cloned() else {
        panic!()
    };
    let mut y = y;
    y[7] = f32::from_bits(y[7].to_bits() ^ 0x10);
    bad.arrays.insert("y", Data::F32(y.clone()));
    // 16 ulps off: out of the 1-ulp tolerance, both ways.
    assert_eq!(m.check_reference(&bad).unwrap().magnitude.elements, 1);
    assert_eq!(m.compare(&got, &bad).verdict, Verdict::Different);
    // One ulp off is within it.
    y[7] = f32::from_bits(got.arrays.f32s("y").unwrap()[7].to_bits() + 1);
    bad.arrays.insert("y", Data::F32(y));
    assert_eq!(m.compare(&got, &bad).verdict, Verdict::WithinTolerance);
}

/// A fresh directory under the system's temporary directory.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "gpufault-manifest-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const MIX_CU: &str = r#"
// out[i] = a[i] * k + b[i] + (long long)w, for i < n; a short, a double and a struct
// passed by value.
struct Offs { long long base; int extra; };
extern "C" __global__ void mix(const int *a, const unsigned char *b, long long *out,
                               short k, double w, Offs o, unsigned int n)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = (long long)a[i] * k + b[i] + (long long)w + o.base + o.extra;
    }
}
"#;

fn mix_manifest(seed: u64) -> String {
    format!(
        r#"
[code]
cu = "mix.cu"
options = ["--gpu-architecture=compute_80", "-lineinfo"]

[[buffers]]
name = "a"
type = "i32"
len = 300
init = {{ random = "uniform", min = -1000, max = 1000, seed = {seed} }}

[[buffers]]
name = "b"
type = "u8"
len = 300
init = {{ pattern = "cycle", values = [1, 2, 3] }}

[[buffers]]
name = "out"
type = "i64"
len = 300

[[launches]]
kernel = "mix"
grid = [3, 1, 1]
block = 128
args = [{{ buffer = "a" }}, {{ buffer = "b" }}, {{ buffer = "out" }}, -3, 2.0,
        {{ bytes = [5, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0] }}, {{ len = "out" }}]

[[outputs]]
buffer = "out"
"#
    )
}

#[test]
fn a_manifest_written_on_the_fly_for_a_cu_kernel_runs() {
    let dir = temp_dir("mix");
    std::fs::write(dir.join("mix.cu"), MIX_CU).unwrap();
    let path = dir.join("mix.toml");
    std::fs::write(&path, mix_manifest(9)).unwrap();
    let m = Manifest::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.name(), "mix", "named after the file");
    let Data::I32(a) = m.buffers()[0].initial() else {
        panic!()
    };
    assert!(a.iter().all(|x| (-1000..=1000).contains(x)));
    assert!(
        a.iter().any(|&x| x < -500) && a.iter().any(|&x| x > 500),
        "{a:?}"
    );
    let mut dev = sim();
    let module = dev.load(m.ptx()).unwrap();
    let got = m.run(dev.as_mut(), module).unwrap();
    let want: Vec<i64> = a
        .iter()
        .enumerate()
        .map(|(i, &x)| i64::from(x) * -3 + (i % 3 + 1) as i64 + 2 + 5 + 7)
        .collect();
    assert_eq!(got.arrays.get("out"), Some(&Data::I64(want)));
    assert!(
        m.check_reference(&got).is_none(),
        "no reference: golden only"
    );

    // The digest: stable for the same files, changed by the seed and by the source.
    let d = m.digest().to_string();
    assert_eq!(d.len(), 64);
    assert_eq!(Manifest::load(&path).unwrap().digest(), d);
    assert_eq!(
        Manifest::load(&path).unwrap().buffers()[0].initial(),
        m.buffers()[0].initial(),
        "seeded values are reproducible"
    );
    std::fs::write(&path, mix_manifest(10)).unwrap();
    let other = Manifest::load(&path).unwrap();
    assert_ne!(other.digest(), d);
    assert_ne!(other.buffers()[0].initial(), m.buffers()[0].initial());
    std::fs::write(&path, mix_manifest(9)).unwrap();
    std::fs::write(dir.join("mix.cu"), format!("{MIX_CU}\n// changed\n")).unwrap();
    assert_ne!(Manifest::load(&path).unwrap().digest(), d);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_changed_data_file_changes_the_digest() {
    let dir = temp_dir("digest");
    for f in [
        "reduction.toml",
        "reduction.ptx",
        "data.bin",
        "partial_ref.npy",
        "total_ref.bin",
    ] {
        std::fs::copy(examples().join("reduction").join(f), dir.join(f)).unwrap();
    }
    let path = dir.join("reduction.toml");
    let d = Manifest::load(&path).unwrap().digest().to_string();
    let mut data = std::fs::read(dir.join("data.bin")).unwrap();
    data[0] ^= 1;
    std::fs::write(dir.join("data.bin"), &data).unwrap();
    assert_ne!(Manifest::load(&path).unwrap().digest(), d);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Loads `toml` (with `files`) from a fresh directory; the error and the manifest path.
fn load_err(toml: &str, files: &[(&str, &[u8])]) -> (ManifestError, String) {
    let dir = temp_dir("err");
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let path = dir.join("bad.toml");
    std::fs::write(&path, toml).unwrap();
    let e = Manifest::load(&path).expect_err("the manifest must not load");
    std::fs::remove_dir_all(&dir).unwrap();
    (e, path.display().to_string())
}

const KERNEL_PTX: &str = "
.version 7.0
.target sm_70
.address_size 64
.visible .entry k(.param .u64 p, .param .u32 n, .param .align 8 .b8 s[24], .param .f32 x)
{
    ret;
}
";

fn kernel_manifest(args: &str, extra: &str) -> String {
    format!(
        "[code]\nptx = \"k.ptx\"\n\n[[buffers]]\nname = \"buf\"\ntype = \"f32\"\nlen = 8\n{extra}\n\
         [[launches]]\nkernel = \"k\"\ngrid = 1\nblock = 32\nargs = {args}\n\n\
         [[outputs]]\nbuffer = \"buf\"\n"
    )
}

const GOOD_ARGS: &str = r#"[{ buffer = "buf" }, { len = "buf" }, { hex = "000102030405060708090a0b0c0d0e0f1011121314151617" }, 1.5]"#;

#[test]
fn the_kernel_manifest_helper_is_valid() {
    let dir = temp_dir("good");
    std::fs::write(dir.join("k.ptx"), KERNEL_PTX).unwrap();
    std::fs::write(dir.join("good.toml"), kernel_manifest(GOOD_ARGS, "")).unwrap();
    let m = Manifest::load(dir.join("good.toml")).unwrap_or_else(|e| panic!("{e}"));
    let mut dev = sim();
    let module = dev.load(m.ptx()).unwrap();
    assert_eq!(m.run(dev.as_mut(), module).unwrap().arrays.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_key_names_file_line_and_column() {
    let toml = kernel_manifest(GOOD_ARGS, "").replace("len = 8\n", "len = 8\nlenght = 9\n");
    let (e, file) = load_err(&toml, &[("k.ptx", KERNEL_PTX.as_bytes())]);
    let ManifestError::Syntax {
        line, col, message, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((*line, *col), (8, 1), "{e}");
    assert!(message.contains("unknown field `lenght`"), "{message}");
    assert!(e.to_string().starts_with(&format!("{file}:8:1: ")), "{e}");
}

#[test]
fn arguments_that_do_not_fit_their_parameters_name_launch_and_argument() {
    let ptx: &[(&str, &[u8])] = &[("k.ptx", KERNEL_PTX.as_bytes())];
    let cases = [
        // A float for the u32 `n`.
        (
            GOOD_ARGS.replace(r#"{ len = "buf" }"#, "2.5"),
            "launches[0].args[1]",
            "expected an integer for parameter .u32 n",
        ),
        // A buffer for the f32 `x`.
        (
            GOOD_ARGS.replace("1.5]", r#"{ buffer = "buf" }]"#),
            "launches[0].args[3]",
            "not a 64-bit integer",
        ),
        // Out of range.
        (
            GOOD_ARGS.replace(r#"{ len = "buf" }"#, "4294967296"),
            "launches[0].args[1]",
            "out of range for parameter .u32 n",
        ),
        // A 23-byte aggregate for the 24-byte one.
        (
            GOOD_ARGS.replace("1617\"", "16\""),
            "launches[0].args[2]",
            "23 bytes given; parameter .b8 s (24 bytes) has 24",
        ),
        // A scalar for the aggregate.
        (
            GOOD_ARGS.replace(
                r#"{ hex = "000102030405060708090a0b0c0d0e0f1011121314151617" }"#,
                "3",
            ),
            "launches[0].args[2]",
            "is an aggregate",
        ),
        // An unknown buffer.
        (
            GOOD_ARGS.replace(r#"{ buffer = "buf" }"#, r#"{ buffer = "nope" }"#),
            "launches[0].args[0]",
            "no buffer `nope`",
        ),
        // Too few.
        (
            r#"[{ buffer = "buf" }]"#.to_string(),
            "launches[0].args",
            "takes 4 parameters (.u64 p, .u32 n, .b8 s (24 bytes), .f32 x), 1 arguments given",
        ),
    ];
    for (args, field, want) in cases {
        let (e, _) = load_err(&kernel_manifest(&args, ""), ptx);
        let ManifestError::Invalid {
            field: f,
            message,
            line,
            ..
        } = &e
        else {
            panic!("{args}: {e:?}")
        };
        assert_eq!(f, field, "{e}");
        assert!(message.contains(want), "{args}: {e}");
        assert!(*line >= 9, "the position of the launch or argument: {e}");
    }
}

#[test]
fn an_npy_of_another_dtype_or_length_is_refused() {
    let npy_f64 = workloads::write_npy(&Data::F64(vec![0.0; 8]));
    let npy_short = workloads::write_npy(&Data::F32(vec![0.0; 7]));
    for (bytes, want) in [
        (&npy_f64, "holds f64 ('<f8'), expected f32 ('<f4')"),
        (&npy_short, "holds 7 elements (shape [7]), expected 8"),
    ] {
        let toml = kernel_manifest(GOOD_ARGS, "init = { file = \"x.npy\" }\n");
        let (e, file) = load_err(&toml, &[("k.ptx", KERNEL_PTX.as_bytes()), ("x.npy", bytes)]);
        let ManifestError::DataFile {
            field,
            path,
            detail,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(
            (field.as_str(), path.as_str()),
            ("buffers[0].init.file", "x.npy")
        );
        assert!(detail.contains(want), "{e}");
        assert!(e.to_string().starts_with(&format!("{file}:")), "{e}");
    }
}

#[test]
fn a_missing_file_is_named_with_the_field() {
    let (e, _) = load_err(&kernel_manifest(GOOD_ARGS, ""), &[]);
    let ManifestError::DataFile {
        field,
        path,
        detail,
        line,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (field.as_str(), path.as_str(), *line),
        ("code.ptx", "k.ptx", 1)
    );
    assert!(detail.contains("cannot read"), "{e}");
    let toml = kernel_manifest(GOOD_ARGS, "").replace(
        "buffer = \"buf\"\n",
        "buffer = \"buf\"\nreference = \"missing.npy\"\n",
    );
    let (e, _) = load_err(&toml, &[("k.ptx", KERNEL_PTX.as_bytes())]);
    assert!(
        matches!(&e, ManifestError::DataFile { field, .. } if field == "outputs[0].reference"),
        "{e:?}"
    );
}

#[test]
fn other_mistakes_are_named() {
    let ptx: &[(&str, &[u8])] = &[("k.ptx", KERNEL_PTX.as_bytes())];
    let good = kernel_manifest(GOOD_ARGS, "");
    let cases = [
        (
            good.replace("type = \"f32\"", "type = \"float\""),
            "buffers[0].type",
            "unknown type `float`",
        ),
        (
            good.replace("kernel = \"k\"", "kernel = \"q\""),
            "launches[0].kernel",
            "no kernel `q` in k.ptx (it has: k)",
        ),
        (
            good.replace("grid = 1", "grid = [1, 2, 3, 4]"),
            "launches[0].grid",
            "1 to 3",
        ),
        (
            good.replace("block = 32", "block = 0"),
            "launches[0].block",
            "positive integer",
        ),
        (
            kernel_manifest(
                GOOD_ARGS,
                "init = { random = \"uniform\", min = 0.0, max = 1.0, value = 3 }\n",
            ),
            "buffers[0].init.value",
            "does not go with `random`",
        ),
        (
            kernel_manifest(GOOD_ARGS, "init = { pattern = \"iota\", start = 1e39 }\n"),
            "buffers[0].init.start",
            "out of range for f32",
        ),
        (
            good.replace(
                "buffer = \"buf\"\n",
                "buffer = \"buf\"\nulp = 1\nabs = 0.1\n",
            ),
            "outputs[0].ulp",
            "cannot be combined",
        ),
        (
            good.replace("buffer = \"buf\"\n", "buffer = \"buf\"\nnan = \"maybe\"\n"),
            "outputs[0].nan",
            "expected `any` (default) or `bits`",
        ),
    ];
    for (toml, field, want) in cases {
        let (e, _) = load_err(&toml, ptx);
        let ManifestError::Invalid {
            field: f, message, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(f, field, "{e}");
        assert!(message.contains(want), "{e}");
    }
}

#[test]
fn a_cu_that_does_not_compile_gives_the_compiler_log() {
    let toml =
        "[code]\ncu = \"broken.cu\"\n\n[[buffers]]\nname = \"b\"\ntype = \"u8\"\nlen = 1\n\n\
                [[launches]]\nkernel = \"k\"\ngrid = 1\nblock = 1\n\n[[outputs]]\nbuffer = \"b\"\n";
    let src = b"extern \"C\" __global__ void k(int *p)\n{\n    p[0] = nope;\n}\n";
    let (e, file) = load_err(toml, &[("broken.cu", src)]);
    assert!(matches!(e, ManifestError::Compile { line: 1, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("{file}:1:1: code.cu: broken.cu does not compile")),
        "{msg}"
    );
    assert!(msg.contains("broken.cu(3)"), "{msg}");
}
