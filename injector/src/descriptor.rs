//! The fault descriptor: the 88 bytes the host writes into an instrumented module's
//! `__gpufault_desc` global before each launch, and its layout.
//!
//! The layout is defined once, by [`DescField`]: its order and each field's width give
//! the offsets that [`Descriptor::to_bytes`] writes and that the code the instrumentation
//! emits reads ([`DescField::load`]); the table in [`Descriptor`]'s documentation is
//! checked against it by a test.

use crate::instrument::DESC_SYMBOL;
use crate::spec::{FaultSpec, Policy};

/// The bytes of the fault descriptor global `__gpufault_desc` (88 bytes, little-endian).
///
/// | offset | type | field |
/// |---|---|---|
/// | 0 | u32 | enabled (1) or disabled (0) |
/// | 4 | u32 | SM |
/// | 8 | u32 | sub-partition |
/// | 12 | u32 | warp-slot mask |
/// | 16 | u32 | lane mask |
/// | 20 | u32 | dimension mask (iat/iaw/iac) |
/// | 24 | u64 | AND mask (value' = ((v & and) \| or) ^ xor) |
/// | 32 | u64 | OR mask |
/// | 40 | u64 | XOR mask |
/// | 48 | u32 | opcode-group id ([`op_group_id`]) |
/// | 52 | u32 | variant (model-specific, see [`Descriptor::variant`]) |
/// | 56 | u32 | force flag |
/// | 60 | u32 | reserved (0) |
/// | 64 | u32 | transient: the site's number in the module ([`crate::Site`] order) |
/// | 68 | u32 | transient: the destination register (element of a vector) flipped |
/// | 72 | u64 | transient: the instance, 0-based, among the site's thread-level executions |
/// | 80 | u64 | transient: the instance counter the device increments (the host writes 0) |
///
/// The permanent models read the fields up to offset 60; the transient models (`tbf1`,
/// `tbf2`) read `enabled`, the XOR mask and the four fields from offset 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Descriptor {
    /// Enabled flag.
    pub enabled: u32,
    /// SM.
    pub sm: u32,
    /// Sub-partition.
    pub sp: u32,
    /// Warp-slot mask.
    pub warps: u32,
    /// Lane mask.
    pub lanes: u32,
    /// Dimension mask.
    pub dims: u32,
    /// AND mask.
    pub and: u64,
    /// OR mask.
    pub or: u64,
    /// XOR mask.
    pub xor: u64,
    /// Opcode-group id.
    pub op: u32,
    /// Model-specific variant: ial 0 = off, 1 = on; wv 0 = sa0, 1 = sa1, 2 = flip;
    /// imd bits 0..2 = spaces s/l/g, bit 4 = address mode; ira field*4 + bit; ioc the
    /// substitute's index in [`crate::SUBSTITUTES`].
    pub variant: u32,
    /// Force flag (iat/iaw/iac).
    pub force: u32,
    /// Transient models: the number of the site (its index in
    /// [`crate::Instrumented::sites`]).
    pub site: u32,
    /// Transient models: which destination register of the site is flipped (0 for a
    /// scalar destination, the element of a vector one).
    pub dest: u32,
    /// Transient models: which thread-level execution of the site is flipped, counting
    /// from 0 over every launch of the module in the run.
    pub instance: u64,
}

/// Size of the descriptor global in bytes.
pub const DESCRIPTOR_BYTES: usize = DescField::END;

/// One field of the descriptor, in the order of its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DescField {
    /// Enabled (1) or disabled (0).
    Enabled,
    /// SM.
    Sm,
    /// Sub-partition.
    Sp,
    /// Warp-slot mask.
    Warps,
    /// Lane mask.
    Lanes,
    /// Dimension mask (iat/iaw/iac).
    Dims,
    /// AND mask (value' = ((v & and) | or) ^ xor).
    And,
    /// OR mask.
    Or,
    /// XOR mask.
    Xor,
    /// Opcode-group id ([`op_group_id`]).
    Op,
    /// Model-specific variant ([`Descriptor::variant`]).
    Variant,
    /// Force flag.
    Force,
    /// Reserved (always 0).
    Reserved,
    /// Transient models: the site's number.
    Site,
    /// Transient models: the destination register flipped.
    Dest,
    /// Transient models: the instance flipped.
    Instance,
    /// Transient models: the count of the site's executions so far; the device adds 1
    /// per thread-level execution (`atom.global.add`), the host writes 0 with every
    /// descriptor.
    Counter,
}

impl DescField {
    /// Every field, in layout order: each starts where the one before it ends.
    pub const ALL: [DescField; 17] = [
        DescField::Enabled,
        DescField::Sm,
        DescField::Sp,
        DescField::Warps,
        DescField::Lanes,
        DescField::Dims,
        DescField::And,
        DescField::Or,
        DescField::Xor,
        DescField::Op,
        DescField::Variant,
        DescField::Force,
        DescField::Reserved,
        DescField::Site,
        DescField::Dest,
        DescField::Instance,
        DescField::Counter,
    ];

    /// Where the last field ends: the descriptor's size.
    const END: usize = DescField::Counter.offset() + DescField::Counter.bytes();

    /// Width in bytes (4 or 8).
    pub const fn bytes(self) -> usize {
        match self {
            DescField::And
            | DescField::Or
            | DescField::Xor
            | DescField::Instance
            | DescField::Counter => 8,
            _ => 4,
        }
    }

    /// Byte offset in the descriptor: the widths of the fields before it.
    pub const fn offset(self) -> usize {
        let mut off = 0;
        let mut k = 0;
        while k < DescField::ALL.len() {
            let f = DescField::ALL[k];
            if f as usize == self as usize {
                return off;
            }
            off += f.bytes();
            k += 1;
        }
        off
    }

    /// The PTX type of the field (`u32` or `u64`).
    pub const fn ptx_type(self) -> &'static str {
        if self.bytes() == 8 {
            "u64"
        } else {
            "u32"
        }
    }

    /// The field's value in `d`.
    fn value(self, d: &Descriptor) -> u64 {
        match self {
            DescField::Enabled => d.enabled.into(),
            DescField::Sm => d.sm.into(),
            DescField::Sp => d.sp.into(),
            DescField::Warps => d.warps.into(),
            DescField::Lanes => d.lanes.into(),
            DescField::Dims => d.dims.into(),
            DescField::And => d.and,
            DescField::Or => d.or,
            DescField::Xor => d.xor,
            DescField::Op => d.op.into(),
            DescField::Variant => d.variant.into(),
            DescField::Force => d.force.into(),
            DescField::Reserved | DescField::Counter => 0,
            DescField::Site => d.site.into(),
            DescField::Dest => d.dest.into(),
            DescField::Instance => d.instance,
        }
    }

    /// The PTX that loads the field into register `dst`:
    /// `ld.global.u32 dst, [__gpufault_desc+16];`.
    pub(crate) fn load(self, dst: &str) -> String {
        let off = self.offset();
        let at = if off == 0 {
            DESC_SYMBOL.to_string()
        } else {
            format!("{DESC_SYMBOL}+{off}")
        };
        format!("ld.global.{} {dst}, [{at}];\n", self.ptx_type())
    }
}

/// The stable 32-bit id of an opcode group (`add.s32`): FNV-1a of its text, never 0.
pub fn op_group_id(group: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in group.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h.max(1)
}

impl Descriptor {
    /// The disabled descriptor: an instrumented module computes what the original does.
    pub fn disabled() -> Descriptor {
        Descriptor::default()
    }

    /// Encodes a validated spec: the site selection, then the model's parameters (see
    /// each model's encoding; a parameter left out takes its neutral default: mask 1
    /// flipped, dimension x, no force).
    pub fn from_spec(spec: &FaultSpec) -> Descriptor {
        let mut d = Descriptor {
            enabled: 1,
            sm: spec.sm,
            sp: spec.sp,
            warps: spec.warps,
            lanes: spec.effective_lanes(),
            dims: 1,
            ..Descriptor::default()
        };
        d.set_masks(1, Policy::Xor);
        spec.model.kind().encode(&spec.params, &mut d);
        d
    }

    /// Sets the AND, OR and XOR masks that apply `policy` to the bits of `mask`.
    pub(crate) fn set_masks(&mut self, mask: u64, policy: Policy) {
        (self.and, self.or, self.xor) = match policy {
            Policy::Sa0 => (!mask, 0, 0),
            Policy::Sa1 => (u64::MAX, mask, 0),
            Policy::Xor => (u64::MAX, 0, mask),
        };
    }

    /// The 64 little-endian bytes to write into `__gpufault_desc`.
    pub fn to_bytes(&self) -> [u8; DESCRIPTOR_BYTES] {
        let mut b = [0u8; DESCRIPTOR_BYTES];
        for f in DescField::ALL {
            let (off, n) = (f.offset(), f.bytes());
            b[off..off + n].copy_from_slice(&f.value(self).to_le_bytes()[..n]);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_layout() {
        let spec =
            FaultSpec::parse("iat:sm=3,sp=1,warps=0x5,lanes=0xff,dim=y,mask=0x4,pol=sa0").unwrap();
        let d = Descriptor::from_spec(&spec);
        let b = d.to_bytes();
        assert_eq!(&b[0..4], &1u32.to_le_bytes());
        assert_eq!(&b[4..8], &3u32.to_le_bytes());
        assert_eq!(&b[8..12], &1u32.to_le_bytes());
        assert_eq!(&b[12..16], &5u32.to_le_bytes());
        assert_eq!(&b[16..20], &0xffu32.to_le_bytes());
        assert_eq!(&b[20..24], &2u32.to_le_bytes());
        assert_eq!(&b[24..32], &(!4u64).to_le_bytes());
        assert_eq!(&b[32..48], &[0u8; 16]);
        assert_eq!(Descriptor::disabled().to_bytes(), [0u8; DESCRIPTOR_BYTES]);
        // all-lane models ignore the lane mask
        let w = FaultSpec::parse("iaw:sm=0,lanes=0x1").unwrap();
        assert_eq!(Descriptor::from_spec(&w).lanes, u32::MAX);
        assert_ne!(op_group_id("add.s32"), op_group_id("add.u32"));
    }

    #[test]
    fn fields_tile_the_descriptor_and_each_lands_at_its_offset() {
        assert_eq!(DESCRIPTOR_BYTES, 88);
        let mut end = 0;
        for f in DescField::ALL {
            assert_eq!(
                f.offset(),
                end,
                "{f:?} must start where the field before ends"
            );
            assert_eq!(f.offset() % f.bytes(), 0, "{f:?} is naturally aligned");
            end += f.bytes();
        }
        assert_eq!(end, DESCRIPTOR_BYTES);
        // a distinct value in every field lands at that field's offset only
        let d = Descriptor {
            enabled: 0x11,
            sm: 0x22,
            sp: 0x33,
            warps: 0x44,
            lanes: 0x55,
            dims: 0x66,
            and: 0x77,
            or: 0x88,
            xor: 0x99,
            op: 0xaa,
            variant: 0xbb,
            force: 0xcc,
            site: 0xdd,
            dest: 0xee,
            instance: 0xf1,
        };
        let b = d.to_bytes();
        for f in DescField::ALL {
            let mut want = [0u8; 8];
            want[0] = f.value(&d) as u8;
            assert_eq!(
                &b[f.offset()..f.offset() + f.bytes()],
                &want[..f.bytes()],
                "{f:?}"
            );
        }
    }

    #[test]
    fn the_documented_table_is_the_layout() {
        // The rows of the table in `Descriptor`'s docs: offset, type, field.
        let src = include_str!("descriptor.rs");
        let rows: Vec<(usize, String)> = src
            .lines()
            .filter_map(|l| l.trim().strip_prefix("/// | "))
            .filter_map(|row| {
                let cells: Vec<&str> = row.split(" | ").collect();
                Some((cells.first()?.parse().ok()?, cells.get(1)?.to_string()))
            })
            .collect();
        let want: Vec<(usize, String)> = DescField::ALL
            .iter()
            .map(|f| (f.offset(), f.ptx_type().to_string()))
            .collect();
        assert_eq!(
            rows, want,
            "the table in Descriptor's docs disagrees with DescField"
        );
    }

    #[test]
    fn loads_name_the_offsets() {
        assert_eq!(
            DescField::Enabled.load("%r"),
            "ld.global.u32 %r, [__gpufault_desc];\n"
        );
        assert_eq!(
            DescField::Xor.load("%x"),
            "ld.global.u64 %x, [__gpufault_desc+40];\n"
        );
    }
}
