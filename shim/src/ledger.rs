//! TEMPORARY (the ledger helper's version replaces this at merge).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Ledger error.
#[derive(Debug, thiserror::Error)]
#[error("ledger: {0}")]
pub struct LedgerError(String);

/// Ledger.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
}

/// Quarantine request.
pub struct Quarantine {
    /// uuid
    pub uuid: String,
    /// device
    pub device: String,
    /// reason
    pub reason: String,
    /// evidence
    pub evidence: reports::ledger::Evidence,
}

impl Ledger {
    /// at
    pub fn at(path: impl Into<PathBuf>) -> Ledger {
        Ledger { path: path.into() }
    }
    /// default
    pub fn default_path() -> PathBuf {
        std::env::var_os(crate::env::LEDGER)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/gpufault-ledger.json"))
    }
    /// path
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// quarantine
    pub fn quarantine(&self, q: Quarantine) -> Result<(), LedgerError> {
        let mut set = self.quarantined()?;
        set.insert(q.uuid);
        let text = serde_json::to_string(&set).map_err(|e| LedgerError(e.to_string()))?;
        crate::sys::write_atomic(&self.path, text.as_bytes())
            .map_err(|e| LedgerError(e.to_string()))
    }
    /// quarantined
    pub fn quarantined(&self) -> Result<BTreeSet<String>, LedgerError> {
        match std::fs::read_to_string(&self.path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| LedgerError(e.to_string())),
            Err(_) => Ok(BTreeSet::new()),
        }
    }
}
