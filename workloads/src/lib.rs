//! CUDA workloads (work in progress).
