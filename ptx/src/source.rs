//! Reading PTX text from a file: PTX is ASCII (UTF-8 is accepted in comments and
//! strings), so a file that is not UTF-8 is an error that says where the first invalid
//! byte is, instead of the standard library's bare "stream did not contain valid UTF-8".

use std::path::{Path, PathBuf};

/// Why a PTX file could not be read as text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error (part of the message, so not also a `source`).
        error: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error(
        "{}: not UTF-8 text: invalid byte {byte:#04x} at line {line}, column {col} (byte \
         offset {offset})",
        path.display()
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: u32,
        /// 1-based column of the first invalid byte, in characters (everything before it
        /// on its line is valid UTF-8).
        col: u32,
        /// 0-based byte offset of the first invalid byte in the file.
        offset: u64,
        /// The first invalid byte.
        byte: u8,
    },
}

/// Reads the PTX file `path` as UTF-8 text.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("ptx-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let f = dir.join("k.ptx");
/// std::fs::write(&f, b".version 8.0\n// caf\xe9\n")?;
/// let e = ptx::read_source(&f).unwrap_err().to_string();
/// assert!(e.ends_with("not UTF-8 text: invalid byte 0xe9 at line 2, column 7 (byte offset 19)"), "{e}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_source(path: &Path) -> Result<String, SourceError> {
    let bytes = std::fs::read(path).map_err(|error| SourceError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let offset = e.utf8_error().valid_up_to();
        let before = &bytes[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        SourceError::NotUtf8 {
            path: path.to_path_buf(),
            line: 1 + crate::lexer::count_newlines(before),
            col: 1 + std::str::from_utf8(&before[line_start..])
                .map_or(offset - line_start, |s| s.chars().count()) as u32,
            offset: offset as u64,
            byte: bytes[offset],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ptx-source-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("f.ptx");
        std::fs::write(&f, bytes).unwrap();
        f
    }

    #[test]
    fn the_first_invalid_byte_is_located() {
        // Valid multi-byte UTF-8 (é) before the bad byte is two bytes, one column.
        let f = scratch(
            "bad",
            b".version 8.0\n// \xc3\xa9\n\xc3\xa9.target \xffsm_80\n\xfe",
        );
        match read_source(&f).unwrap_err() {
            SourceError::NotUtf8 {
                line,
                col,
                offset,
                byte,
                ..
            } => assert_eq!((line, col, offset, byte), (3, 10, 29, 0xff)),
            e => panic!("{e}"),
        }
        // A truncated multi-byte sequence at the very start.
        let f = scratch("start", b"\xc3");
        match read_source(&f).unwrap_err() {
            SourceError::NotUtf8 {
                line, col, offset, ..
            } => assert_eq!((line, col, offset), (1, 1, 0)),
            e => panic!("{e}"),
        }
        let ok = scratch("ok", "// caf\u{e9}\n".as_bytes());
        assert_eq!(read_source(&ok).unwrap(), "// caf\u{e9}\n");
        let missing = ok.with_file_name("missing.ptx");
        assert!(read_source(&missing)
            .unwrap_err()
            .to_string()
            .starts_with("cannot read "));
        for name in ["bad", "start", "ok"] {
            let d = std::env::temp_dir().join(format!("ptx-source-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
