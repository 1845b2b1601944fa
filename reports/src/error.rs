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
    /// The text is not JSON, or not a quarantine ledger ([`crate::ledger::LedgerFile`]).
    #[error("not a quarantine ledger: {error}")]
    LedgerJson {
        /// The parser's complaint, with its line and column (part of the message, so not
        /// also a `source`).
        error: serde_json::Error,
    },
    /// The ledger was written in a newer format than this build reads.
    #[error("quarantine ledger has schema_version {found}, this gpufault reads version {supported}: a newer gpufault wrote it")]
    LedgerSchemaVersion {
        /// The version in the file.
        found: u64,
        /// The version this build reads ([`crate::ledger::LEDGER_SCHEMA_VERSION`]).
        supported: u32,
    },
    /// The ledger is JSON of the right shape but not valid: no schema version, a
    /// malformed UUID, a UUID listed twice.
    #[error("invalid quarantine ledger: {detail}")]
    LedgerInvalid {
        /// What is wrong, naming the field.
        detail: String,
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
