//! `gpufault train` (to be written).
