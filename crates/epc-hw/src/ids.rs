//! Newtypes for the identifiers the architecture deals in: EPC pages,
//! sections, NUMA nodes, enclaves, linear addresses, VA slots and logical
//! processors. Keeping them apart in the types means a page id can never be
//! passed where an address is expected.

use std::fmt;

/// Size of an EPC page and of an enclave page, in bytes.
pub const PAGE_SIZE: u64 = 4096;

/// Number of eight-byte version slots in one Version Array page (SDM §38.18).
pub const VA_SLOTS_PER_PAGE: u16 = 512;

/// The index of a 4 KiB page in the EPC, counted across all sections in the
/// order the sections were configured. It plays the role of the page's
/// physical address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpcPageId(pub u32);

impl EpcPageId {
    /// The id as an index into flat per-page arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for EpcPageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epc#{}", self.0)
    }
}

impl fmt::Display for EpcPageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The index of an EPC section, in configuration order (Linux allows up to 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SectionId(pub u8);

/// A NUMA node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u16);

/// The enclave identifier (EID) that ECREATE assigns from a machine-wide
/// counter. It is bound into the MAC of every evicted child page, so a page
/// sealed for one enclave cannot be loaded into another.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnclaveId(pub u64);

impl fmt::Debug for EnclaveId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "eid{}", self.0)
    }
}

/// An enclave linear (virtual) address. Leaves that take a page address
/// require it to be 4 KiB aligned and raise #GP otherwise.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LinearAddress(pub u64);

impl LinearAddress {
    /// Whether the address is 4 KiB aligned.
    #[inline]
    pub const fn is_page_aligned(self) -> bool {
        self.0 % PAGE_SIZE == 0
    }

    /// The address of the page that holds this address.
    #[inline]
    pub const fn page(self) -> LinearAddress {
        LinearAddress(self.0 & !(PAGE_SIZE - 1))
    }

    /// The byte offset of this address inside its page.
    #[inline]
    pub const fn offset(self) -> u64 {
        self.0 & (PAGE_SIZE - 1)
    }

    /// The enclave linear page number (address divided by the page size).
    #[inline]
    pub const fn page_number(self) -> u64 {
        self.0 / PAGE_SIZE
    }

    /// This address plus `bytes`.
    #[inline]
    pub const fn add(self, bytes: u64) -> LinearAddress {
        LinearAddress(self.0 + bytes)
    }
}

impl fmt::Debug for LinearAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for LinearAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// One eight-byte slot of a Version Array page: the RDX operand of EWB and
/// ELDU. A slot index of 512 or more does not lie inside the page and raises
/// #GP, as a misaligned RDX would.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VaSlot {
    /// The VA page.
    pub page: EpcPageId,
    /// The slot inside it, `0..512`.
    pub slot: u16,
}

impl fmt::Debug for VaSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}[{}]", self.page, self.slot)
    }
}

/// A logical processor of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LpId(pub u32);
