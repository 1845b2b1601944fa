//! TEMPORARY (the ledger helper's version replaces this at merge).

use crate::check::Finding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Ledger.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LedgerFile {
    /// Entries.
    pub gpus: BTreeMap<String, String>,
}

/// Evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Check findings.
    Check {
        /// findings
        findings: Vec<Finding>,
    },
    /// XID.
    Xid {
        /// code
        xid: u64,
    },
}
