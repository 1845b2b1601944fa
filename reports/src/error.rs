//! The crate's one error type.

use crate::summary::SCHEMA_VERSION;

/// What can go wrong reading or writing reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The text is not a JSON report of the supported schema.
    #[error("invalid campaign report JSON (schema version {SCHEMA_VERSION}): {error}")]
    Json {
        /// The parser's complaint (part of the message, so not also a `source`).
        error: serde_json::Error,
    },
    /// The JSON has no `schema_version` number at the top level.
    #[error("the JSON has no top-level `schema_version` number: not a gpufault campaign report")]
    MissingSchemaVersion,
    /// The report was written in a schema version this build cannot read.
    #[error("campaign report has schema_version {found}, this build reads version {supported}")]
    UnsupportedSchemaVersion {
        /// The version in the file.
        found: u64,
        /// The version this build reads ([`SCHEMA_VERSION`]).
        supported: u32,
    },
    /// A line of a run-record JSON Lines file is not a [`crate::RunRecord`].
    #[error("invalid run record on line {line}: {error}")]
    Record {
        /// The 1-based line number.
        line: usize,
        /// The parser's complaint (part of the message, so not also a `source`).
        error: serde_json::Error,
    },
    /// Writing run records failed.
    #[error("cannot write run records: {error}")]
    Write {
        /// The I/O error (part of the message, so not also a `source`).
        error: std::io::Error,
    },
    /// A format name that [`crate::Format`] does not know.
    #[error("unknown report format `{name}` (known: {known})")]
    UnknownFormat {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
}
