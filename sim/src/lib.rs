//! The virtual GPU (work in progress).
