//! The quarantine ledger's records (to be written).
