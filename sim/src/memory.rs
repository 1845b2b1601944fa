//! Global device memory: allocations at distinct, aligned, non-zero addresses in one flat
//! 64-bit space, with unmapped gaps between them so that small overflows fault.
//!
//! Addresses are a function of the live allocations alone: each allocation takes the
//! lowest address that keeps the gaps (first fit, from [`HEAP_BASE`]). So a run that
//! allocates the same sizes in the same order after everything of earlier runs was freed
//! gets the same addresses, whatever the device did before; a fresh device and one that
//! served many runs lay a run out alike.

use crate::error::SimError;

/// First address handed out.
pub(crate) const HEAP_BASE: u64 = 0x1_0000_0000;
/// Allocation alignment.
pub(crate) const ALLOC_ALIGN: u64 = 256;
/// Unmapped bytes at least between two allocations.
pub(crate) const GUARD: u64 = 4096;
/// Largest total of live allocations.
pub(crate) const MAX_TOTAL: u64 = 16 << 30;

#[derive(Debug, Clone)]
pub(crate) struct Alloc {
    pub base: u64,
    pub data: Vec<u8>,
}

/// The global memory of one virtual GPU.
#[derive(Debug, Clone, Default)]
pub(crate) struct GlobalMemory {
    /// Live allocations sorted by base address.
    pub allocs: Vec<Alloc>,
    total: u64,
}

/// The first address at or after `from` aligned to `align` (a power of two).
fn align_to(from: u64, align: u64) -> Option<u64> {
    from.checked_next_multiple_of(align)
}

/// Where the next allocation after one ending (exclusively) at `end` may start, before
/// its own alignment: past the guard gap, on an [`ALLOC_ALIGN`] boundary.
fn after(end: u64) -> Option<u64> {
    end.checked_add(GUARD)?
        .checked_next_multiple_of(ALLOC_ALIGN)
}

impl GlobalMemory {
    /// Allocates `len` zeroed bytes aligned to `align` (at least [`ALLOC_ALIGN`]) at the
    /// lowest address that leaves at least [`GUARD`] unmapped bytes to each neighbour.
    /// Freed space is reused, so the addresses depend only on the live allocations.
    pub(crate) fn alloc(&mut self, len: u64, align: u64) -> Result<u64, SimError> {
        let align = align.max(ALLOC_ALIGN).next_power_of_two();
        let oom = SimError::OutOfMemory { requested: len };
        if self.total.saturating_add(len) > MAX_TOTAL || align > 1 << 20 {
            return Err(oom);
        }
        let size = len.max(1);
        // First fit: the gap before each live allocation in address order, then the end.
        let mut from = HEAP_BASE;
        let mut at = self.allocs.len();
        let mut base = None;
        for (i, a) in self.allocs.iter().enumerate() {
            let b = align_to(from, align).ok_or(oom.clone())?;
            let fits = b
                .checked_add(size)
                .and_then(after)
                .is_some_and(|next| next <= a.base);
            if fits {
                (at, base) = (i, Some(b));
                break;
            }
            from = after(a.base + a.data.len().max(1) as u64).ok_or(oom.clone())?;
        }
        let base = match base {
            Some(b) => b,
            None => align_to(from, align).ok_or(oom.clone())?,
        };
        base.checked_add(size).and_then(after).ok_or(oom)?;
        self.total += len;
        self.allocs.insert(
            at,
            Alloc {
                base,
                data: vec![0; len as usize],
            },
        );
        Ok(base)
    }

    /// Frees the allocation based at `ptr`.
    pub(crate) fn free(&mut self, ptr: u64) -> Result<(), SimError> {
        let i = self
            .allocs
            .binary_search_by_key(&ptr, |a| a.base)
            .map_err(|_| SimError::InvalidPointer { ptr })?;
        self.total -= self.allocs[i].data.len() as u64;
        self.allocs.remove(i);
        Ok(())
    }

    /// The allocation index and offset of `[addr, addr + len)`, if it lies inside one
    /// allocation.
    #[inline]
    pub(crate) fn find(&self, addr: u64, len: u64) -> Option<(usize, usize)> {
        let i = match self.allocs.binary_search_by_key(&addr, |a| a.base) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        let a = &self.allocs[i];
        let off = addr - a.base;
        (off.checked_add(len)? <= a.data.len() as u64).then_some((i, off as usize))
    }

    /// [`GlobalMemory::find`] trying the two most recently hit allocations of `cache`
    /// first (kernels often alternate between two buffers) and remembering a hit.
    #[inline(always)]
    pub(crate) fn find_cached(
        &self,
        cache: &mut [usize; 2],
        addr: u64,
        len: u64,
    ) -> Option<(usize, usize)> {
        for k in 0..2 {
            if let Some(a) = self.allocs.get(cache[k]) {
                let off = addr.wrapping_sub(a.base);
                let n = a.data.len() as u64;
                if off < n && len <= n - off {
                    let hit = cache[k];
                    if k == 1 {
                        cache.swap(0, 1);
                    }
                    return Some((hit, off as usize));
                }
            }
        }
        let r = self.find(addr, len)?;
        *cache = [r.0, cache[0]];
        Some(r)
    }

    /// Host read.
    pub(crate) fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), SimError> {
        let (i, off) = self
            .find(addr, out.len() as u64)
            .ok_or(SimError::OutOfBounds {
                ptr: addr,
                len: out.len() as u64,
            })?;
        out.copy_from_slice(&self.allocs[i].data[off..off + out.len()]);
        Ok(())
    }

    /// Host write.
    pub(crate) fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), SimError> {
        let (i, off) = self
            .find(addr, bytes.len() as u64)
            .ok_or(SimError::OutOfBounds {
                ptr: addr,
                len: bytes.len() as u64,
            })?;
        self.allocs[i].data[off..off + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_disjoint_and_guarded() {
        let mut m = GlobalMemory::default();
        let a = m.alloc(100, 0).unwrap();
        let b = m.alloc(4096, 1024).unwrap();
        assert!(a >= HEAP_BASE && a % ALLOC_ALIGN == 0);
        assert!(b % 1024 == 0 && b >= a + 100 + GUARD);
        assert_eq!(m.find(a + 99, 1), Some((0, 99)));
        assert_eq!(m.find(a + 99, 2), None); // straddles the end
        assert_eq!(m.find(a + 100, 1), None); // in the guard gap
        assert_eq!(m.find(b + 8, 8), Some((1, 8)));
        m.write(b + 8, &[1, 2, 3]).unwrap();
        let mut out = [0; 3];
        m.read(b + 8, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3]);
        m.free(a).unwrap();
        assert!(m.free(a).is_err());
        assert_eq!(m.find(a, 1), None);
        assert!(m.alloc(MAX_TOTAL + 1, 0).is_err());
    }

    #[test]
    fn freed_space_is_reused_first_fit_so_a_run_gets_the_same_addresses() {
        // A "module" allocation that stays, then two runs of the same three buffers.
        let mut m = GlobalMemory::default();
        let module = m.alloc(4096, 4096).unwrap();
        let run = |m: &mut GlobalMemory| {
            let a = m.alloc(1000, 0).unwrap();
            let b = m.alloc(64, 1024).unwrap();
            m.free(a).unwrap();
            let c = m.alloc(10, 0).unwrap();
            let addrs = [a, b, c];
            m.free(b).unwrap();
            m.free(c).unwrap();
            addrs
        };
        let first = run(&mut m);
        // `c` reuses the space `a` left, with the guard gap before `b` intact.
        assert_eq!(first[2], first[0]);
        assert!(first[1] >= first[0] + 1000 + GUARD);
        assert!(first[0] >= module + 4096 + GUARD);
        // Whatever ran before, the same run on the same live allocations is laid out
        // alike, on this device and on a fresh one.
        for _ in 0..3 {
            let x = m.alloc(123_456, 0).unwrap();
            m.free(x).unwrap();
            assert_eq!(run(&mut m), first);
        }
        let mut fresh = GlobalMemory::default();
        assert_eq!(fresh.alloc(4096, 4096).unwrap(), module);
        assert_eq!(run(&mut fresh), first);
        // A gap too small for a request is skipped; a request that fits fills it.
        let a = m.alloc(100, 0).unwrap();
        let b = m.alloc(100, 0).unwrap();
        m.free(a).unwrap();
        let big = m.alloc(1 << 20, 0).unwrap();
        assert!(big > b, "the gap `a` left is too small");
        assert_eq!(m.alloc(16, 0).unwrap(), a, "a small one fills it");
    }

    #[test]
    fn a_fresh_device_lays_out_as_before_when_nothing_is_freed() {
        // The addresses of a device that never frees are those of the bump allocator
        // this one replaced: each after the previous end plus the guard, aligned.
        let mut m = GlobalMemory::default();
        let mut next = HEAP_BASE;
        for (len, align) in [(100, 0), (4096, 1024), (1, 0), (70_000, 4096), (0, 0)] {
            let a = m.alloc(len, align).unwrap();
            let al = align.max(ALLOC_ALIGN).next_power_of_two();
            assert_eq!(a, next.div_ceil(al) * al);
            next = (a + len.max(1) + GUARD).next_multiple_of(ALLOC_ALIGN);
        }
    }
}
