//! NumPy `.npy` files: the header parsed by hand (magic, version 1/2/3, the Python dict
//! with `descr`, `fortran_order`, `shape`), the data as a typed [`Data`] array.
//!
//! ```text
//! \x93NUMPY  major minor  header_len (u16 LE for 1.x, u32 LE for 2.x/3.x)
//! {'descr': '<f4', 'fortran_order': False, 'shape': (1024,), }   padded with spaces, '\n'
//! raw elements, C order
//! ```

use crate::data::{DType, Data};

const MAGIC: &[u8] = b"\x93NUMPY";

/// The header of an `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The dtype string as written (`<f4`).
    pub descr: String,
    /// Column-major element order.
    pub fortran_order: bool,
    /// The array's shape (`()` for a scalar).
    pub shape: Vec<u64>,
}

impl Header {
    /// Elements: the product of the shape.
    pub(crate) fn count(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
    }
}

/// The element type a dtype string stands for, and whether its bytes are big-endian.
pub(crate) fn dtype_of(descr: &str) -> Option<(DType, bool)> {
    let (order, code) = descr.split_at(descr.len().min(1));
    let big = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => return None,
    };
    let t = match code {
        "u1" | "b1" => DType::U8,
        "i1" => DType::I8,
        "u2" => DType::U16,
        "i2" => DType::I16,
        "u4" => DType::U32,
        "i4" => DType::I32,
        "u8" => DType::U64,
        "i8" => DType::I64,
        "f4" => DType::F32,
        "f8" => DType::F64,
        _ => return None,
    };
    Some((t, big && t.size() > 1))
}

/// The little-endian dtype string of `t` (`<f4`, `|u1`).
pub(crate) fn descr_of(t: DType) -> String {
    let code = match t {
        DType::U8 => "u1",
        DType::I8 => "i1",
        DType::U16 => "u2",
        DType::I16 => "i2",
        DType::U32 => "u4",
        DType::I32 => "i4",
        DType::U64 => "u8",
        DType::I64 => "i8",
        DType::F32 => "f4",
        DType::F64 => "f8",
    };
    format!("{}{code}", if t.size() == 1 { '|' } else { '<' })
}

/// Parses an `.npy` file into its header and data. Errors are messages without the
/// file's name (the caller adds it).
pub(crate) fn read(bytes: &[u8]) -> Result<(Header, Data), String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not an .npy file (no \\x93NUMPY magic)".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => {
            return Err(format!(
                "unsupported .npy version {major}.{minor} (1.0, 2.0 and 3.0 are)"
            ))
        }
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| format!("header of {len} bytes runs past the end of the file"))?;
    let text =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| "header is not text".to_string())?;
    if major < 3 && !text.is_ascii() {
        return Err(format!("header of a version {major} file is not ASCII"));
    }
    let header = parse_header(text)?;
    let (dtype, big) = dtype_of(&header.descr).ok_or_else(|| {
        format!(
            "dtype '{}' is not supported (integers of 1-8 bytes, float32, float64)",
            header.descr
        )
    })?;
    let count = header.count().ok_or("shape overflows")?;
    if header.fortran_order && header.shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(
            "fortran_order arrays are not supported: save a C-ordered copy \
                    (np.ascontiguousarray)"
                .into(),
        );
    }
    let body = &bytes[end..];
    let want = count
        .checked_mul(dtype.size() as u64)
        .ok_or("shape overflows")?;
    if body.len() as u64 != want {
        return Err(format!(
            "shape {:?} of '{}' needs {want} data bytes, the file has {}",
            header.shape,
            header.descr,
            body.len()
        ));
    }
    let data = if big {
        let mut swapped = body.to_vec();
        for c in swapped.chunks_exact_mut(dtype.size()) {
            c.reverse();
        }
        Data::from_le_bytes(dtype, &swapped)
    } else {
        Data::from_le_bytes(dtype, body)
    };
    Ok((header, data.expect("length checked")))
}

/// Writes `data` as a version 1.0 `.npy` file of shape `(len,)`.
pub fn write_npy(data: &Data) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({},), }}",
        descr_of(data.dtype()),
        data.len()
    );
    // Magic, version, length, dict, spaces, '\n': a multiple of 64 bytes in all.
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    let pad = unpadded.next_multiple_of(64) - unpadded;
    let mut out = Vec::with_capacity(unpadded + pad + data.len() * data.dtype().size());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + pad, b' ');
    out.push(b'\n');
    out.extend_from_slice(&data.to_le_bytes());
    out
}

/// Parses the header's Python dict literal: string keys; string, `True`/`False` and
/// tuple-of-integers values.
fn parse_header(text: &str) -> Result<Header, String> {
    let mut p = Lit {
        s: text.trim_end_matches(['\n', ' ', '\0']).as_bytes(),
        i: 0,
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("header has an unknown key '{other}'")),
        }
        p.ws();
        if !p.eat(b',') {
            p.ws();
            p.expect(b'}')?;
            break;
        }
    }
    let missing = |k: &str| format!("header has no '{k}'");
    Ok(Header {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

struct Lit<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lit<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed header: expected '{}' at byte {}",
                c as char, self.i
            ))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let q = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "malformed header: expected a string at byte {}",
                    self.i
                ))
            }
        };
        self.i += 1;
        let start = self.i;
        while self.s.get(self.i).is_some_and(|&c| c != q) {
            self.i += 1;
        }
        let s = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
        self.expect(q)?;
        Ok(s.to_string())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err(format!(
            "malformed header: expected True or False at byte {}",
            self.i
        ))
    }

    fn tuple(&mut self) -> Result<Vec<u64>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            let n = std::str::from_utf8(&self.s[start..self.i])
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| format!("malformed header: bad shape at byte {start}"))?;
            dims.push(n);
            self.ws();
            if !self.eat(b',') {
                self.ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as NumPy writes it (`np.save` of `np.arange(3, dtype='<i4')`).
    fn numpy_file(version: u8, descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version, 0]);
        let hlen = dict.len() + 1;
        if version == 1 {
            out.extend_from_slice(&(hlen as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(hlen as u32).to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn reads_every_version_and_shape() {
        let body: Vec<u8> = [0i32, 1, -2].iter().flat_map(|x| x.to_le_bytes()).collect();
        for v in [1, 2, 3] {
            let (h, d) = read(&numpy_file(v, "<i4", "(3,)", &body)).unwrap();
            assert_eq!(h.shape, [3]);
            assert_eq!(d, Data::I32(vec![0, 1, -2]));
        }
        let (h, d) = read(&numpy_file(1, "<i4", "(1, 3)", &body)).unwrap();
        assert_eq!((h.shape, d.len()), (vec![1, 3], 3));
        let (h, d) = read(&numpy_file(1, "<i4", "()", &body[..4])).unwrap();
        assert_eq!((h.count(), d), (Some(1), Data::I32(vec![0])));
    }

    #[test]
    fn big_endian_is_swapped_and_single_bytes_need_no_order() {
        let (_, d) = read(&numpy_file(1, ">u2", "(2,)", &[0x12, 0x34, 0, 1])).unwrap();
        assert_eq!(d, Data::U16(vec![0x1234, 1]));
        let (_, d) = read(&numpy_file(1, "|i1", "(2,)", &[0xff, 1])).unwrap();
        assert_eq!(d, Data::I8(vec![-1, 1]));
    }

    #[test]
    fn written_files_read_back_and_are_aligned() {
        let d = Data::F64(vec![1.5, f64::NAN, -0.0]);
        let bytes = write_npy(&d);
        let (h, back) = read(&bytes).unwrap();
        assert_eq!(h.descr, "<f8");
        assert_eq!(back.to_le_bytes(), d.to_le_bytes());
        assert_eq!((bytes.len() - 24) % 64, 0);
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        let body = 7u32.to_le_bytes();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04 not numpy".to_vec(), "magic"),
            (numpy_file(4, "<u4", "(1,)", &body), "version 4.0"),
            (numpy_file(1, "<c8", "(1,)", &body), "dtype '<c8'"),
            (numpy_file(1, "<u4", "(2,)", &body), "needs 8 data bytes"),
            (numpy_file(1, "<u4", "(x,)", &body), "bad shape"),
            (
                MAGIC.iter().chain(&[1, 0, 200, 0]).copied().collect(),
                "runs past",
            ),
        ];
        for (bytes, want) in cases {
            let e = read(&bytes).unwrap_err();
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        }
        let mut f = numpy_file(1, "<u4", "(1,)", &body);
        let at = f.iter().position(|&c| c == b'F').unwrap();
        f[at..at + 5].copy_from_slice(b"True ");
        assert!(
            read(&f).is_ok(),
            "a 1-D fortran_order array is C-ordered too"
        );
        for cut in 0..f.len() {
            let _ = read(&f[..cut]);
        }
    }
}
