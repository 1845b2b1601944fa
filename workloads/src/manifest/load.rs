//! Reading a manifest: TOML to checked values, files read, code compiled, digest.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gpu::LaunchConfig;
use ptx::nvrtc::{self, Nvrtc, NvrtcError};
use sha2::{Digest, Sha256};
use toml::{Spanned, Value};

use super::schema::{BufferToml, ManifestToml, OutputToml};
use super::MAX_BUFFER_BYTES;
use super::{args, init, npy, BufferSpec, Code, Launch, Manifest, ManifestError, OutputSpec};
use crate::compare::{NanMode, Rule, Tolerance};
use crate::data::{DType, Data};

/// What every part of loading needs: the manifest's name, text and directory, and the
/// files read so far (for the digest).
pub(super) struct Ctx {
    file: String,
    text: String,
    dir: PathBuf,
    files: Vec<(String, Vec<u8>)>,
}

impl Ctx {
    /// 1-based line and column of byte `offset`.
    fn pos(&self, offset: usize) -> (u32, u32) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line as u32, col as u32)
    }

    /// An [`ManifestError::Invalid`] at `span`.
    pub(super) fn invalid(
        &self,
        span: Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> ManifestError {
        let (line, col) = self.pos(span.start);
        ManifestError::Invalid {
            file: self.file.clone(),
            line,
            col,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A [`ManifestError::DataFile`] at `span`.
    pub(super) fn data_file(
        &self,
        span: Range<usize>,
        field: &str,
        path: &str,
        detail: impl Into<String>,
    ) -> ManifestError {
        let (line, col) = self.pos(span.start);
        ManifestError::DataFile {
            file: self.file.clone(),
            line,
            col,
            field: field.to_string(),
            path: path.to_string(),
            detail: detail.into(),
        }
    }

    /// Reads `rel` (relative to the manifest's directory) and records it for the digest.
    pub(super) fn read(
        &mut self,
        span: Range<usize>,
        field: &str,
        rel: &str,
    ) -> Result<Vec<u8>, ManifestError> {
        if rel.is_empty() {
            return Err(self.invalid(span, field, "empty path"));
        }
        let full = self.dir.join(rel);
        let bytes = std::fs::read(&full).map_err(|e| {
            self.data_file(
                span,
                field,
                rel,
                format!("cannot read {}: {e}", full.display()),
            )
        })?;
        self.files.push((rel.to_string(), bytes.clone()));
        Ok(bytes)
    }

    /// Reads a data file (`.npy`, else raw little-endian unless `format` says) of
    /// `len` elements of `dtype`.
    pub(super) fn read_data(
        &mut self,
        span: Range<usize>,
        field: &str,
        rel: &str,
        format: Option<&str>,
        dtype: DType,
        len: usize,
    ) -> Result<Data, ManifestError> {
        let npy = match format {
            Some("npy") => true,
            Some("raw") => false,
            None => rel.ends_with(".npy"),
            Some(other) => {
                return Err(self.invalid(
                    span,
                    field,
                    format!("format `{other}`: expected `npy` or `raw`"),
                ))
            }
        };
        let bytes = self.read(span.clone(), field, rel)?;
        let fail = |detail: String| self.data_file(span.clone(), field, rel, detail);
        if !npy {
            let want = len as u64 * dtype.size() as u64;
            if bytes.len() as u64 != want {
                return Err(fail(format!(
                    "holds {} bytes; {len} elements of {dtype} are {want} bytes (raw \
                     little-endian)",
                    bytes.len()
                )));
            }
            return Ok(Data::from_le_bytes(dtype, &bytes).expect("length checked"));
        }
        let (header, data) = npy::read(&bytes).map_err(fail)?;
        if data.dtype() != dtype {
            return Err(fail(format!(
                "holds {} ('{}'), expected {dtype} ('{}')",
                data.dtype(),
                header.descr,
                npy::descr_of(dtype)
            )));
        }
        if data.len() != len {
            return Err(fail(format!(
                "holds {} elements (shape {:?}), expected {len}",
                data.len(),
                header.shape
            )));
        }
        Ok(data)
    }
}

/// The process's NVRTC, opened at the first `.cu` manifest.
fn shared_nvrtc() -> Result<&'static Nvrtc, NvrtcError> {
    static NVRTC: OnceLock<Result<Nvrtc, NvrtcError>> = OnceLock::new();
    NVRTC
        .get_or_init(nvrtc::find_in_workspace)
        .as_ref()
        .map_err(Clone::clone)
}

pub(super) fn load(path: &Path, nvrtc: Option<&Nvrtc>) -> Result<Manifest, ManifestError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError::Read {
        file: file.clone(),
        detail: e.to_string(),
    })?;
    let mut cx = Ctx {
        file,
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        files: Vec::new(),
        text,
    };
    let raw: ManifestToml = toml::from_str(&cx.text).map_err(|e| {
        let (line, col) = cx.pos(e.span().map_or(0, |s| s.start));
        ManifestError::Syntax {
            file: cx.file.clone(),
            line,
            col,
            message: e.message().trim_end().to_string(),
        }
    })?;
    let name = match &raw.name {
        Some(n) => {
            check_name(n.get_ref()).map_err(|m| cx.invalid(n.span(), "name", m))?;
            n.get_ref().clone()
        }
        None => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            check_name(&stem).map_err(|m| {
                cx.invalid(0..0, "name", format!("{m} (no `name` key: the file name)"))
            })?;
            stem
        }
    };
    let (ptx_text, code, code_file) = code(&mut cx, &raw, nvrtc)?;
    let module = ptx::parse(&ptx_text).map_err(|e| {
        let first = &e.errors[0];
        let more = e.errors.len() - 1;
        ManifestError::Ptx {
            file: cx.file.clone(),
            code: code_file.clone(),
            line: first.line,
            col: first.col,
            message: if more > 0 {
                format!("{} (and {more} more errors)", first.message)
            } else {
                first.message.clone()
            },
        }
    })?;
    let buffers = raw
        .buffers
        .iter()
        .enumerate()
        .map(|(i, b)| buffer(&mut cx, i, b, &raw.buffers[..i]))
        .collect::<Result<Vec<_>, _>>()?;
    if raw.launches.is_empty() {
        return Err(cx.invalid(0..0, "launches", "no [[launches]]: nothing would run"));
    }
    let mut launches = Vec::new();
    for (i, l) in raw.launches.iter().enumerate() {
        let field = format!("launches[{i}]");
        let t = l.get_ref();
        let kernel = module
            .kernels()
            .find(|k| k.name == t.kernel.as_str())
            .ok_or_else(|| {
                let known: Vec<&str> = module.kernels().map(|k| k.name.as_str()).collect();
                cx.invalid(
                    l.span(),
                    &format!("{field}.kernel"),
                    format!(
                        "no kernel `{}` in {code_file} (it has: {})",
                        t.kernel,
                        known.join(", ")
                    ),
                )
            })?;
        let grid = dims(&cx, &t.grid, &format!("{field}.grid"))?;
        let block = dims(&cx, &t.block, &format!("{field}.block"))?;
        let args = args::bind(&cx, &field, l.span(), kernel, &t.args, &buffers)?;
        launches.push(Launch {
            kernel: t.kernel.clone(),
            config: LaunchConfig {
                grid,
                block,
                shared_bytes: t.shared,
            },
            args,
        });
    }
    if raw.outputs.is_empty() {
        return Err(cx.invalid(0..0, "outputs", "no [[outputs]]: nothing to compare"));
    }
    let mut outputs: Vec<OutputSpec> = Vec::new();
    for (i, o) in raw.outputs.iter().enumerate() {
        let spec = output(&mut cx, i, o, &buffers)?;
        if outputs.iter().any(|p| p.name == spec.name) {
            return Err(cx.invalid(
                o.span(),
                &format!("outputs[{i}].buffer"),
                format!("`{}` is already an output", spec.name),
            ));
        }
        outputs.push(spec);
    }
    let digest = digest(&cx, &code);
    Ok(Manifest {
        path: path.to_path_buf(),
        name,
        ptx: ptx_text,
        code,
        buffers,
        launches,
        outputs,
        digest,
    })
}

/// A name for campaign stores and file names: letters, digits, `_`, `-`, `.`.
fn check_name(n: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if n.is_empty() || !n.chars().all(ok) {
        return Err(format!(
            "`{n}` is not a valid name (letters, digits, `_`, `-`, `.`; not empty)"
        ));
    }
    Ok(())
}

/// The PTX text, where it came from, and the code file's path as written.
fn code(
    cx: &mut Ctx,
    raw: &ManifestToml,
    nvrtc: Option<&Nvrtc>,
) -> Result<(String, Code, String), ManifestError> {
    let span = raw.code.span();
    let c = raw.code.get_ref();
    match (&c.ptx, &c.cu) {
        (Some(p), None) => {
            if c.options.is_some() {
                return Err(cx.invalid(
                    span,
                    "code.options",
                    "options are for NVRTC: only with `cu`",
                ));
            }
            let bytes = cx.read(span.clone(), "code.ptx", p)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| cx.data_file(span, "code.ptx", p, "is not UTF-8 text"))?;
            Ok((text, Code::Ptx(p.clone()), p.clone()))
        }
        (None, Some(cu)) => {
            let bytes = cx.read(span.clone(), "code.cu", cu)?;
            let source = String::from_utf8(bytes)
                .map_err(|_| cx.data_file(span.clone(), "code.cu", cu, "is not UTF-8 text"))?;
            let options = c.options.clone().unwrap_or_else(nvrtc::default_options);
            let (line, col) = cx.pos(span.start);
            let compile_err = |source| ManifestError::Compile {
                file: cx.file.clone(),
                line,
                col,
                error: source,
            };
            let nvrtc = match nvrtc {
                Some(n) => n,
                None => shared_nvrtc().map_err(compile_err)?,
            };
            let name = Path::new(cu)
                .file_name()
                .map_or(cu.clone(), |f| f.to_string_lossy().into_owned());
            let out = nvrtc
                .compile(&source, &name, &options)
                .map_err(compile_err)?;
            let code = Code::Cu {
                file: cu.clone(),
                options,
                nvrtc: nvrtc.version(),
            };
            Ok((out.ptx, code, cu.clone()))
        }
        _ => Err(cx.invalid(
            span,
            "code",
            "give exactly one of `ptx = \"FILE.ptx\"` or `cu = \"FILE.cu\"`",
        )),
    }
}

fn buffer(
    cx: &mut Ctx,
    i: usize,
    b: &Spanned<BufferToml>,
    before: &[Spanned<BufferToml>],
) -> Result<BufferSpec, ManifestError> {
    let field = format!("buffers[{i}]");
    let t = b.get_ref();
    check_name(&t.name).map_err(|m| cx.invalid(b.span(), &format!("{field}.name"), m))?;
    if before.iter().any(|p| p.get_ref().name == t.name) {
        return Err(cx.invalid(
            b.span(),
            &format!("{field}.name"),
            format!("a buffer `{}` is already declared", t.name),
        ));
    }
    let dtype = DType::from_name(&t.ty).ok_or_else(|| {
        let known: Vec<&str> = DType::ALL.iter().map(|d| d.name()).collect();
        cx.invalid(
            b.span(),
            &format!("{field}.type"),
            format!("unknown type `{}` (known: {})", t.ty, known.join(", ")),
        )
    })?;
    let bytes = t.len.checked_mul(dtype.size() as u64);
    if t.len == 0 || bytes.is_none_or(|n| n > MAX_BUFFER_BYTES) {
        return Err(cx.invalid(
            b.span(),
            &format!("{field}.len"),
            format!(
                "{} elements of {dtype}: a buffer has 1 element or more, {MAX_BUFFER_BYTES} \
                 bytes at most",
                t.len
            ),
        ));
    }
    let len = t.len as usize;
    let init = match &t.init {
        None => None,
        Some(s) => {
            let data = init::initial(cx, &format!("{field}.init"), s, &t.name, dtype, len)?;
            Some(data.to_le_bytes())
        }
    };
    Ok(BufferSpec {
        name: t.name.clone(),
        dtype,
        len,
        init,
    })
}

/// `16`, `[16]`, `[16, 4]` or `[16, 4, 2]`, each at least 1.
fn dims(cx: &Ctx, v: &Spanned<Value>, field: &str) -> Result<[u32; 3], ManifestError> {
    let bad = || {
        cx.invalid(
            v.span(),
            field,
            "expected a positive integer or an array of 1 to 3 of them",
        )
    };
    let list: Vec<&Value> = match v.get_ref() {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    if list.is_empty() || list.len() > 3 {
        return Err(bad());
    }
    let mut out = [1u32; 3];
    for (slot, d) in out.iter_mut().zip(list) {
        *slot = match d {
            Value::Integer(n) if (1..=i64::from(u32::MAX)).contains(n) => *n as u32,
            _ => return Err(bad()),
        };
    }
    Ok(out)
}

fn output(
    cx: &mut Ctx,
    i: usize,
    o: &Spanned<OutputToml>,
    buffers: &[BufferSpec],
) -> Result<OutputSpec, ManifestError> {
    let field = format!("outputs[{i}]");
    let t = o.get_ref();
    let span = o.span();
    let buffer = buffers
        .iter()
        .position(|b| b.name == t.buffer)
        .ok_or_else(|| {
            cx.invalid(
                span.clone(),
                &format!("{field}.buffer"),
                format!("no buffer `{}`", t.buffer),
            )
        })?;
    let b = &buffers[buffer];
    let invalid = |key: &str, m: String| cx.invalid(span.clone(), &format!("{field}.{key}"), m);
    for (key, v) in [("abs", t.abs), ("rel", t.rel)] {
        if v.is_some_and(|x| !(x >= 0.0 && x.is_finite())) {
            return Err(invalid(key, "a tolerance is a finite number >= 0".into()));
        }
    }
    let tolerance = match (t.abs, t.rel, t.ulp) {
        (None, None, None) => Tolerance::Exact,
        (abs, rel, None) => Tolerance::Close {
            abs: abs.unwrap_or(0.0),
            rel: rel.unwrap_or(0.0),
        },
        (None, None, Some(ulps)) => Tolerance::Ulp { ulps },
        _ => {
            return Err(invalid(
                "ulp",
                "`ulp` cannot be combined with `abs`/`rel`".into(),
            ))
        }
    };
    if tolerance != Tolerance::Exact && !b.dtype.is_float() {
        return Err(invalid(
            "abs",
            format!(
                "`{}` is {}: integer outputs compare exactly, tolerances are for f32/f64",
                b.name, b.dtype
            ),
        ));
    }
    let nan = match t.nan.as_deref() {
        None | Some("any") => NanMode::Any,
        Some("bits") => NanMode::Bits,
        Some(other) => {
            return Err(invalid(
                "nan",
                format!("`{other}`: expected `any` (default) or `bits`"),
            ))
        }
    };
    let reference = match &t.reference {
        Some(r) => Some(cx.read_data(
            span.clone(),
            &format!("{field}.reference"),
            r,
            t.format.as_deref(),
            b.dtype,
            b.len,
        )?),
        None if t.format.is_some() => {
            return Err(invalid(
                "format",
                "`format` describes a `reference` file".into(),
            ))
        }
        None => None,
    };
    Ok(OutputSpec {
        name: b.name.clone(),
        buffer,
        rule: Rule { tolerance, nan },
        reference,
    })
}

/// SHA-256 over length-prefixed parts: a format tag, the manifest text, every file read
/// (its path as written, its bytes), and for a `.cu` the NVRTC version and options.
fn digest(cx: &Ctx, code: &Code) -> String {
    let mut h = Sha256::new();
    let mut part = |p: &[u8]| {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    };
    part(b"gpufault-kernel-manifest-1");
    part(cx.text.as_bytes());
    for (path, bytes) in &cx.files {
        part(path.as_bytes());
        part(bytes);
    }
    if let Code::Cu { options, nvrtc, .. } = code {
        part(format!("nvrtc {}.{}", nvrtc.0, nvrtc.1).as_bytes());
        for o in options {
            part(o.as_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
