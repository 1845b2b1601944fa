//! Global device memory: allocations at distinct, aligned, non-zero addresses in one flat
//! 64-bit space, with unmapped gaps between them so that small overflows fault.

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
#[derive(Debug, Clone)]
pub(crate) struct GlobalMemory {
    /// Live allocations sorted by base address.
    pub allocs: Vec<Alloc>,
    next: u64,
    total: u64,
}

impl Default for GlobalMemory {
    fn default() -> Self {
        GlobalMemory {
            allocs: Vec::new(),
            next: HEAP_BASE,
            total: 0,
        }
    }
}

impl GlobalMemory {
    /// Allocates `len` zeroed bytes aligned to `align` (at least [`ALLOC_ALIGN`]).
    /// Addresses are never reused, so a dangling pointer faults.
    pub(crate) fn alloc(&mut self, len: u64, align: u64) -> Result<u64, SimError> {
        let align = align.max(ALLOC_ALIGN).next_power_of_two();
        let oom = SimError::OutOfMemory { requested: len };
        if self.total.saturating_add(len) > MAX_TOTAL || align > 1 << 20 {
            return Err(oom);
        }
        let base = self.next.div_ceil(align) * align;
        let end = base.checked_add(len.max(1)).ok_or(oom.clone())?;
        self.next = end
            .checked_add(GUARD)
            .and_then(|x| x.checked_next_multiple_of(ALLOC_ALIGN))
            .ok_or(oom)?;
        self.total += len;
        self.allocs.push(Alloc {
            base,
            data: vec![0; len as usize],
        });
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
        let c = m.alloc(1, 0).unwrap();
        assert!(c > b, "addresses are not reused");
        assert!(m.alloc(MAX_TOTAL + 1, 0).is_err());
    }
}
