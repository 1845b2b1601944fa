//! JSON Lines of the raw [`RunRecord`]s: one compact JSON object per line, in the order
//! given.

use crate::error::ReportError;
use crate::record::RunRecord;
use std::io::Write;

/// The records as JSON Lines (each line ends with `\n`).
pub fn render_jsonl<'a>(records: impl IntoIterator<Item = &'a RunRecord>) -> String {
    let mut out = Vec::new();
    write_jsonl(&mut out, records).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Writes the records as JSON Lines to `w` (buffer it: this writes line by line).
pub fn write_jsonl<'a, W: Write>(
    mut w: W,
    records: impl IntoIterator<Item = &'a RunRecord>,
) -> Result<(), ReportError> {
    for r in records {
        serde_json::to_writer(&mut w, r).map_err(|e| ReportError::Write { error: e.into() })?;
        w.write_all(b"\n")
            .map_err(|source| ReportError::Write { error: source })?;
    }
    w.flush()
        .map_err(|source| ReportError::Write { error: source })
}

/// Reads JSON Lines of records; blank lines are skipped, errors name the 1-based line.
pub fn parse_jsonl(text: &str) -> Result<Vec<RunRecord>, ReportError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| ReportError::Record {
                line: i + 1,
                error: source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{HangCause, Outcome};

    fn rec(spec: &str, outcome: Outcome) -> RunRecord {
        RunRecord {
            workload: "bfs".into(),
            model: "brx".into(),
            spec: spec.into(),
            outcome,
            activations: Some(7),
            instructions: None,
            elapsed_us: 42,
            error: Some("line one\nline \"two\"".into()),
            fault_sm: Some(2),
        }
    }

    #[test]
    fn one_record_per_line_and_back() {
        let rs = vec![
            rec("brx:a", Outcome::Escaped),
            rec(
                "brx:b",
                Outcome::Hang {
                    cause: HangCause::Budget,
                },
            ),
        ];
        let text = render_jsonl(&rs);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.ends_with('\n'));
        assert!(text.lines().all(|l| l.starts_with('{') && l.ends_with('}')));
        assert_eq!(parse_jsonl(&format!("\n{text}\n")).unwrap(), rs);
    }

    #[test]
    fn bad_line_is_named() {
        let good = render_jsonl(&[rec("x", Outcome::NotActivated)]);
        let e = parse_jsonl(&format!("{good}{{\"workload\": 3}}\n")).unwrap_err();
        assert!(matches!(e, ReportError::Record { line: 2, .. }), "{e}");
        assert!(
            e.to_string().starts_with("invalid run record on line 2: "),
            "{e}"
        );
    }

    #[test]
    fn write_errors_are_reported() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = write_jsonl(Full, &[rec("x", Outcome::Escaped)]).unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
    }
}
