//! The JSON report: a [`CampaignReport`] serialized, pretty-printed.

use crate::error::ReportError;
use crate::summary::{CampaignReport, SCHEMA_VERSION};

/// The report as pretty JSON (two-space indent, trailing newline). The document is the
/// [`CampaignReport`] itself, `schema_version` first; `docs/report-format.md` describes
/// every field.
pub fn render_json(report: &CampaignReport) -> String {
    // Cannot fail: every map key is a string or a unit enum variant, and no Serialize
    // impl of the report's types returns an error.
    let mut s = serde_json::to_string_pretty(report).expect("campaign reports always serialize");
    s.push('\n');
    s
}

/// Reads a JSON report written by [`render_json`], checking its `schema_version` first so
/// that a report from a newer tool gives a clear error.
pub fn parse_json(text: &str) -> Result<CampaignReport, ReportError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| ReportError::Json { error: source })?;
    let found = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or(ReportError::MissingSchemaVersion)?;
    if found != u64::from(SCHEMA_VERSION) {
        return Err(ReportError::UnsupportedSchemaVersion {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|source| ReportError::Json { error: source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::CampaignMeta;
    use crate::summary::summarize;

    #[test]
    fn schema_version_is_checked_before_the_fields() {
        let report = summarize(&CampaignMeta::default(), []);
        let text = render_json(&report);
        assert!(text.starts_with("{\n  \"schema_version\": 1,\n"), "{text}");
        assert!(text.ends_with("}\n"));
        assert_eq!(parse_json(&text).unwrap(), report);

        let newer = text.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1);
        let e = parse_json(&newer).unwrap_err();
        assert!(
            matches!(
                e,
                ReportError::UnsupportedSchemaVersion {
                    found: 2,
                    supported: 1
                }
            ),
            "{e}"
        );
        let e = parse_json("{\"cells\": []}").unwrap_err();
        assert!(matches!(e, ReportError::MissingSchemaVersion), "{e}");
        let e = parse_json("{\"schema_version\": 1}").unwrap_err();
        assert!(e.to_string().contains("missing field"), "{e}");
        assert!(matches!(
            parse_json("not json"),
            Err(ReportError::Json { .. })
        ));
    }
}
