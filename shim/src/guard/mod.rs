//! `gpufault guard` (to be written).
