//! GPU profiles: the parallel structure a virtual GPU models, and the fixed rule that
//! places CTAs on SMs and warps on warp slots (the seeded alternative is in
//! `crate::schedule`).

/// The parallel structure of a virtual GPU.
///
/// # Placement rule
///
/// With the fixed [`Scheduling`](crate::Scheduling) (the default; a seeded one draws
/// placements within the same occupancy instead), with `k` =
/// [`GpuProfile::occupancy`] CTAs co-resident per SM and `W` warps per CTA,
/// the CTA with linear index `i` (x fastest, then y, then z) runs on SM `i % sms`, in
/// resident position `r = (i / sms) % k`, and its warp `w` occupies warp slot
/// `r * W + w`. So `%smid = i % sms`, `%warpid = r * W + w`, the sub-partition of a
/// warp is `%warpid % 4`, and `%nwarpid` is the profile's warp slots per SM. CTAs
/// execute one after another in linear order (each to completion, its warps
/// interleaved round-robin); see the crate documentation for the scheduling rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuProfile {
    /// Profile name (`sim`, `sim:a100`, `sim:h100`).
    pub name: String,
    /// Streaming multiprocessors.
    pub sms: u32,
    /// Sub-partitions (warp schedulers) per SM.
    pub subpartitions: u32,
    /// Warp slots per SM.
    pub warp_slots: u32,
    /// Maximum resident threads per SM.
    pub max_threads_per_sm: u32,
    /// Shared memory per SM in bytes.
    pub shared_per_sm: u32,
    /// Maximum shared memory (static + dynamic) of one CTA in bytes.
    pub max_shared_per_cta: u32,
    /// Maximum co-resident CTAs per SM.
    pub max_ctas_per_sm: u32,
    /// Maximum threads per CTA.
    pub max_threads_per_cta: u32,
}

impl GpuProfile {
    /// `sim`: a small GPU with 8 SMs of the A100's SM structure (the default).
    pub fn sim() -> GpuProfile {
        GpuProfile {
            name: "sim".into(),
            sms: 8,
            ..GpuProfile::a100()
        }
    }

    /// `sim:a100`: 108 SMs, 64 warp slots and 2,048 threads per SM, 164 KiB shared
    /// memory per SM (163 KiB per CTA), 32 CTAs per SM.
    pub fn a100() -> GpuProfile {
        GpuProfile {
            name: "sim:a100".into(),
            sms: 108,
            subpartitions: 4,
            warp_slots: 64,
            max_threads_per_sm: 2048,
            shared_per_sm: 164 * 1024,
            max_shared_per_cta: 163 * 1024,
            max_ctas_per_sm: 32,
            max_threads_per_cta: 1024,
        }
    }

    /// `sim:h100`: 132 SMs, 64 warp slots and 2,048 threads per SM, 228 KiB shared
    /// memory per SM (227 KiB per CTA), 32 CTAs per SM.
    pub fn h100() -> GpuProfile {
        GpuProfile {
            name: "sim:h100".into(),
            sms: 132,
            shared_per_sm: 228 * 1024,
            max_shared_per_cta: 227 * 1024,
            ..GpuProfile::a100()
        }
    }

    /// The profile of a device name: `sim`, `sim:a100` or `sim:h100`.
    pub fn by_name(name: &str) -> Option<GpuProfile> {
        match name {
            "sim" => Some(GpuProfile::sim()),
            "sim:a100" => Some(GpuProfile::a100()),
            "sim:h100" => Some(GpuProfile::h100()),
            _ => None,
        }
    }

    /// How many CTAs of `threads` threads and `shared` bytes of shared memory are
    /// co-resident on one SM: the minimum of the CTA, warp-slot, thread and shared
    /// memory limits (0 when one CTA does not fit).
    pub fn occupancy(&self, threads: u32, shared: u32) -> u32 {
        let warps = threads.div_ceil(32).max(1);
        let mut k = self.max_ctas_per_sm.min(self.warp_slots / warps);
        k = k.min(self.max_threads_per_sm / (warps * 32));
        if let Some(by_shared) = self.shared_per_sm.checked_div(shared) {
            k = k.min(by_shared);
        }
        if threads > self.max_threads_per_cta || shared > self.max_shared_per_cta {
            0
        } else {
            k
        }
    }

    /// The SM and first warp slot of CTA `linear` given the occupancy `k` and `warps`
    /// warps per CTA, by the fixed rule (see the placement rule in the type
    /// documentation).
    pub fn place(&self, linear: u64, k: u32, warps: u32) -> (u32, u32) {
        let sm = (linear % self.sms as u64) as u32;
        let r = ((linear / self.sms as u64) % k.max(1) as u64) as u32;
        (sm, r * warps)
    }
}

impl Default for GpuProfile {
    fn default() -> Self {
        GpuProfile::sim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_respects_every_limit() {
        let p = GpuProfile::a100();
        assert_eq!(p.occupancy(1024, 0), 2); // threads (and warp slots)
        assert_eq!(p.occupancy(32, 0), 32); // CTA limit
        assert_eq!(p.occupancy(256, 48 * 1024), 3); // shared memory
        assert_eq!(p.occupancy(2048, 0), 0); // too many threads per CTA
        assert_eq!(p.occupancy(64, 200 * 1024), 0);
        assert_eq!(GpuProfile::h100().occupancy(256, 48 * 1024), 4);
    }

    #[test]
    fn placement_is_round_robin_over_sms_then_slots() {
        let p = GpuProfile::sim();
        let k = p.occupancy(128, 0); // 4 warps per CTA → 16 CTAs per SM
        assert_eq!(k, 16);
        assert_eq!(p.place(0, k, 4), (0, 0));
        assert_eq!(p.place(7, k, 4), (7, 0));
        assert_eq!(p.place(8, k, 4), (0, 4));
        assert_eq!(p.place(8 * 16, k, 4), (0, 0)); // second wave reuses slots
        assert_eq!(GpuProfile::by_name("sim:h100").unwrap().sms, 132);
        assert!(GpuProfile::by_name("cuda:0").is_none());
    }
}
