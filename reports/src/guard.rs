//! The training guard's event records (to be written).
