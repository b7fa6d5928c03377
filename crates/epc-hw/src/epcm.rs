//! The Enclave Page Cache Map: one entry per EPC page with the architectural
//! fields of SDM Table 38-28 (VALID, page type, R/W/X, owning SECS, enclave
//! linear address, BLOCKED, PENDING, MODIFIED, PR), plus the epochs of the
//! page's EBLOCK and of its last EMODPR or EMODT that the tracking checks of
//! EWB and EACCEPT compare against.
//!
//! Software cannot read the EPCM on real hardware; the model exposes copies of
//! entries for tests and validation only ([`Machine::epcm`](crate::Machine::epcm)).

use crate::ids::{EpcPageId, LinearAddress};
use std::fmt;

/// EPCM page types (Linux `enum sgx_page_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum PageType {
    /// The enclave control structure.
    Secs = 0,
    /// A thread control structure.
    Tcs = 1,
    /// A regular page of code or data.
    #[default]
    Reg = 2,
    /// A Version Array page.
    Va = 3,
    /// A page being trimmed (SGX2).
    Trim = 4,
}

impl PageType {
    /// Whether pages of this type belong to an enclave and count as children
    /// of its SECS.
    pub const fn is_child(self) -> bool {
        matches!(self, PageType::Tcs | PageType::Reg | PageType::Trim)
    }

    pub(crate) fn from_u8(v: u8) -> Option<PageType> {
        Some(match v {
            0 => PageType::Secs,
            1 => PageType::Tcs,
            2 => PageType::Reg,
            3 => PageType::Va,
            4 => PageType::Trim,
            _ => return None,
        })
    }
}

/// Enclave access permissions (SECINFO.FLAGS bits 0-2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(u8);

impl Perms {
    /// No access.
    pub const NONE: Perms = Perms(0);
    /// Read.
    pub const R: Perms = Perms(1);
    /// Write.
    pub const W: Perms = Perms(2);
    /// Execute.
    pub const X: Perms = Perms(4);
    /// Read and write.
    pub const RW: Perms = Perms(3);
    /// Read, write and execute.
    pub const RWX: Perms = Perms(7);

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set with raw bits `bits` (R = 1, W = 2, X = 4); other bits are
    /// ignored.
    pub const fn from_bits(bits: u8) -> Perms {
        Perms(bits & 7)
    }

    /// The permissions granted by both sets.
    pub const fn intersection(self, other: Perms) -> Perms {
        Perms(self.0 & other.0)
    }

    /// Whether every permission of `other` is granted.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two sets.
    pub const fn union(self, other: Perms) -> Perms {
        Perms(self.0 | other.0)
    }
}

impl fmt::Debug for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |bit: u8, ch: char| if self.0 & bit != 0 { ch } else { '-' };
        write!(f, "{}{}{}", c(1, 'r'), c(2, 'w'), c(4, 'x'))
    }
}

/// SECINFO: the page type, permissions and SGX2 state bits, as EADD takes
/// them and as PCMD stores them for an evicted page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SecInfo {
    /// Page type.
    pub page_type: PageType,
    /// Permissions.
    pub perms: Perms,
    /// PENDING (SGX2).
    pub pending: bool,
    /// MODIFIED (SGX2).
    pub modified: bool,
    /// PR, permission restriction in progress (SGX2).
    pub pr: bool,
}

impl SecInfo {
    /// A regular page with `perms`.
    pub const fn reg(perms: Perms) -> SecInfo {
        SecInfo {
            page_type: PageType::Reg,
            perms,
            pending: false,
            modified: false,
            pr: false,
        }
    }

    /// A thread control structure (no permissions, as EADD requires).
    pub const fn tcs() -> SecInfo {
        SecInfo {
            page_type: PageType::Tcs,
            perms: Perms::NONE,
            pending: false,
            modified: false,
            pr: false,
        }
    }

    /// What EACCEPT expects of a page just added by EAUG: REG, R and W,
    /// PENDING.
    pub const fn eaug() -> SecInfo {
        SecInfo {
            pending: true,
            ..SecInfo::reg(Perms::RW)
        }
    }

    /// What EACCEPT expects of a REG page after EMODPR left it with
    /// `perms`: PR (compared by the legality check only) and the
    /// permissions.
    pub const fn emodpr(perms: Perms) -> SecInfo {
        SecInfo {
            pr: true,
            ..SecInfo::reg(perms)
        }
    }

    /// What EACCEPT expects of a page after EMODT changed its type to `to`
    /// (TCS or TRIM): MODIFIED, no permissions.
    pub const fn emodt(to: PageType) -> SecInfo {
        SecInfo {
            page_type: to,
            perms: Perms::NONE,
            pending: false,
            modified: true,
            pr: false,
        }
    }

    /// SECINFO.FLAGS as a 64-bit word: R, W, X, PENDING, MODIFIED, PR in bits
    /// 0-5 and the page type in bits 15:8 (SDM Table 38-15).
    pub const fn flags(&self) -> u64 {
        (self.perms.0 as u64)
            | ((self.pending as u64) << 3)
            | ((self.modified as u64) << 4)
            | ((self.pr as u64) << 5)
            | ((self.page_type as u64) << 8)
    }

    /// Decodes SECINFO.FLAGS; `None` if reserved bits are set or the type is
    /// unknown.
    pub fn from_flags(flags: u64) -> Option<SecInfo> {
        if flags & !0xff3f != 0 {
            return None;
        }
        Some(SecInfo {
            page_type: PageType::from_u8(((flags >> 8) & 0xff) as u8)?,
            perms: Perms((flags & 7) as u8),
            pending: flags & (1 << 3) != 0,
            modified: flags & (1 << 4) != 0,
            pr: flags & (1 << 5) != 0,
        })
    }
}

/// One EPCM entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EpcmEntry {
    /// The entry is in use.
    pub valid: bool,
    /// Page type, permissions and SGX2 bits.
    pub secinfo: SecInfo,
    /// The page is being evicted: no new TLB translation may be created.
    pub blocked: bool,
    /// The owning enclave's SECS page (ENCLAVESECS), for child pages.
    pub secs: Option<EpcPageId>,
    /// The only enclave linear address through which the page may be
    /// accessed (ENCLAVEADDRESS); 0 for SECS and VA pages.
    pub linaddr: LinearAddress,
    /// The owning enclave's tracking epoch at the page's EBLOCK: EWB needs a
    /// completed ETRACK cycle of a later epoch. Recording it per page is what
    /// lets EBLOCK never refuse with SGX_ENTRYEPOCH_LOCKED.
    pub block_epoch: u64,
    /// The owning enclave's tracking epoch at the page's last EMODPR or
    /// EMODT, while that change is not accepted: EACCEPT needs a completed
    /// ETRACK cycle of a later epoch (SGX_NOT_TRACKED otherwise), since
    /// stale TLB entries may still grant the old rights until then. `None`
    /// when no translation can be stale: after EADD, EAUG, ELDU/ELDB (the
    /// page was free, so no TLB held it) and after EACCEPT.
    pub modify_epoch: Option<u64>,
}

impl EpcmEntry {
    /// The entry of a free page.
    pub const FREE: EpcmEntry = EpcmEntry {
        valid: false,
        secinfo: SecInfo::reg(Perms::NONE),
        blocked: false,
        secs: None,
        linaddr: LinearAddress(0),
        block_epoch: 0,
        modify_epoch: None,
    };

    /// The page type, if the entry is valid.
    pub fn page_type(&self) -> Option<PageType> {
        self.valid.then_some(self.secinfo.page_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secinfo_flags_round_trip() {
        for t in [
            PageType::Secs,
            PageType::Tcs,
            PageType::Reg,
            PageType::Va,
            PageType::Trim,
        ] {
            for p in 0..8 {
                let s = SecInfo {
                    page_type: t,
                    perms: Perms(p),
                    pending: p & 1 != 0,
                    modified: p & 2 != 0,
                    pr: p & 4 != 0,
                };
                assert_eq!(SecInfo::from_flags(s.flags()), Some(s));
            }
        }
        assert_eq!(SecInfo::from_flags(1 << 6), None);
        assert_eq!(SecInfo::from_flags(9 << 8), None);
    }
}
