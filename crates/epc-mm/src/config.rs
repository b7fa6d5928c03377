//! The manager's tunables (watermarks, batch size, mode, policy) and their
//! validation. Defaults are Linux's constants from `arch/x86/kernel/cpu/sgx/sgx.h`,
//! except that the watermarks adapt and allocations that may reclaim help
//! ksgxd when it falls behind, by default (`watermark.rs`, `assist.rs`).

use crate::group::GlobalFairness;
use crate::policy::PolicyKind;
use crate::watermark::Watermarks;
use epc_hw::{NodeId, SectionConfig};
use thiserror::Error;

/// Default low watermark: below this many free pages an allocation wakes
/// ksgxd (Linux `SGX_NR_LOW_PAGES`).
pub const DEFAULT_LOW_WATERMARK: usize = 32;

/// Default high watermark: ksgxd reclaims until this many pages are free
/// (Linux `SGX_NR_HIGH_PAGES`).
pub const DEFAULT_HIGH_WATERMARK: usize = 64;

/// Default number of pages one reclaim batch takes off the list (Linux
/// `SGX_NR_TO_SCAN`): enough to amortise ETRACK and IPIs, small enough to keep
/// the list lock short.
pub const DEFAULT_BATCH: usize = 16;

/// Largest EPC the manager accepts: the range of `EpcPageId`.
pub const MAX_PAGES: u64 = u32::MAX as u64;

/// How the manager is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerConfig {
    /// The EPC sections, in order; page ids are assigned across them as
    /// `epc_hw::EpcLayout::new` does.
    pub sections: Vec<SectionConfig>,
    /// Below this many free pages, an allocation wakes ksgxd.
    pub low_watermark: usize,
    /// ksgxd reclaims until this many pages are free.
    pub high_watermark: usize,
    /// Whether the two watermarks stay as given (Linux) or are a floor that
    /// direct reclaims raise, and whether allocations help ksgxd
    /// ([`Watermarks::Assisted`], the default).
    pub watermarks: Watermarks,
    /// Pages per reclaim batch (ksgxd and direct reclaim).
    pub batch: usize,
    /// Deterministic mode: no ksgxd; an allocation that finds nothing free
    /// reclaims exactly one victim inline. Watermarks are not used.
    pub deterministic: bool,
    /// The victim selection policy built by `EpcManager::new` (for the
    /// root group; each other group names its own).
    pub policy: PolicyKind,
    /// How global reclaim spreads its batches over the groups.
    pub fairness: GlobalFairness,
}

impl ManagerConfig {
    /// Linux's defaults over the given sections.
    pub fn new(sections: Vec<SectionConfig>) -> Self {
        ManagerConfig {
            sections,
            low_watermark: DEFAULT_LOW_WATERMARK,
            high_watermark: DEFAULT_HIGH_WATERMARK,
            watermarks: Watermarks::default(),
            batch: DEFAULT_BATCH,
            deterministic: false,
            policy: PolicyKind::default(),
            fairness: GlobalFairness::default(),
        }
    }

    /// The same configuration with Linux's fixed watermarks.
    pub fn fixed_watermarks(mut self) -> Self {
        self.watermarks = Watermarks::Fixed;
        self
    }

    /// Linux's defaults over one section of `pages` pages on node 0.
    pub fn with_pages(pages: u32) -> Self {
        ManagerConfig::new(vec![SectionConfig {
            pages,
            node: NodeId(0),
        }])
    }

    /// The same configuration in deterministic mode.
    pub fn deterministic(mut self) -> Self {
        self.deterministic = true;
        self
    }

    /// Total pages over all sections.
    pub fn total_pages(&self) -> u64 {
        self.sections.iter().map(|s| u64::from(s.pages)).sum()
    }

    /// Checks the configuration, naming the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sections.is_empty() {
            return Err(ConfigError::NoSections);
        }
        if self.sections.len() > usize::from(u8::MAX) {
            return Err(ConfigError::TooManySections(self.sections.len()));
        }
        if let Some(i) = self.sections.iter().position(|s| s.pages == 0) {
            return Err(ConfigError::EmptySection(i));
        }
        let total = self.total_pages();
        if total > MAX_PAGES {
            return Err(ConfigError::TooLarge(total));
        }
        if self.batch == 0 {
            return Err(ConfigError::ZeroBatch);
        }
        if self.deterministic {
            return Ok(());
        }
        if self.low_watermark >= self.high_watermark {
            return Err(ConfigError::LowNotBelowHigh {
                low: self.low_watermark,
                high: self.high_watermark,
            });
        }
        if self.high_watermark as u64 > total {
            return Err(ConfigError::HighAboveTotal {
                high: self.high_watermark,
                total,
            });
        }
        Ok(())
    }
}

/// A configuration the manager refuses; the message starts with the field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `sections` is empty.
    #[error("sections: the EPC needs at least one section")]
    NoSections,
    /// More sections than section ids can name.
    #[error("sections: {0} sections, at most 255 are supported")]
    TooManySections(usize),
    /// A section without pages.
    #[error("sections[{0}].pages: a section must have at least one page")]
    EmptySection(usize),
    /// More pages than page ids can name.
    #[error("sections: {0} pages in total, at most {MAX_PAGES} are supported")]
    TooLarge(u64),
    /// `batch` is zero.
    #[error("batch: a reclaim batch must take at least one page")]
    ZeroBatch,
    /// `low_watermark` is not below `high_watermark`.
    #[error("low_watermark: {low} must be below high_watermark ({high})")]
    LowNotBelowHigh {
        /// The low watermark given.
        low: usize,
        /// The high watermark given.
        high: usize,
    },
    /// `high_watermark` exceeds the EPC.
    #[error("high_watermark: {high} is above the EPC size ({total} pages)")]
    HighAboveTotal {
        /// The high watermark given.
        high: usize,
        /// Pages in the EPC.
        total: u64,
    },
}
