//! The quarantine ledger (to be written).
