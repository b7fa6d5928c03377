//! Machine configuration: the EPC's sections, the TLB size, the number of
//! logical processors and the cost table. Validated once, at machine creation.

use crate::cost::CostTable;
use crate::ids::{EpcPageId, NodeId, SectionId};
use thiserror::Error;

/// Default number of entries of each logical processor's TLB. Small on
/// purpose: a real L1 DTLB has 64 entries for 4 KiB pages, and the accessed
/// bit, which drives reclaim, is only set on a fill.
pub const DEFAULT_TLB_ENTRIES: usize = 64;

/// Default number of logical processors a machine can hand out.
pub const DEFAULT_MAX_LPS: u32 = 64;

/// Largest EPC the model accepts: 2^32 - 1 pages (almost 16 TiB), the range
/// of [`EpcPageId`].
pub const MAX_EPC_PAGES: u64 = u32::MAX as u64;

/// One EPC section, as CPUID leaf 0x12 enumerates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionConfig {
    /// Size in 4 KiB pages.
    pub pages: u32,
    /// The NUMA node the section's memory belongs to.
    pub node: NodeId,
}

/// Everything needed to build a [`Machine`](crate::Machine).
#[derive(Clone, Debug)]
pub struct MachineConfig {
    /// The EPC sections, in order; page ids are assigned across them.
    pub sections: Vec<SectionConfig>,
    /// Entries per logical processor TLB; 0 means every access walks the
    /// page table (and so sets the accessed bit every time).
    pub tlb_entries: usize,
    /// How many logical processors may exist at once.
    pub max_lps: u32,
    /// Modelled cycles per event.
    pub costs: CostTable,
}

impl MachineConfig {
    /// A machine with one section of `pages` pages on node 0 and defaults
    /// for everything else.
    pub fn with_pages(pages: u32) -> Self {
        MachineConfig {
            sections: vec![SectionConfig {
                pages,
                node: NodeId(0),
            }],
            tlb_entries: DEFAULT_TLB_ENTRIES,
            max_lps: DEFAULT_MAX_LPS,
            costs: CostTable::default(),
        }
    }

    /// Total number of EPC pages over all sections.
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
        for (i, s) in self.sections.iter().enumerate() {
            if s.pages == 0 {
                return Err(ConfigError::EmptySection(i));
            }
        }
        let total = self.total_pages();
        if total > MAX_EPC_PAGES {
            return Err(ConfigError::TooLarge(total));
        }
        if self.max_lps == 0 {
            return Err(ConfigError::NoLps);
        }
        Ok(())
    }
}

/// A configuration the model refuses.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `sections` is empty.
    #[error("sections: the EPC needs at least one section")]
    NoSections,
    /// More sections than page ids can name.
    #[error("sections: {0} sections, at most 255 are supported")]
    TooManySections(usize),
    /// A section of size zero.
    #[error("sections[{0}].pages: a section must have at least one page")]
    EmptySection(usize),
    /// The EPC does not fit the page id range.
    #[error("sections: {0} pages in total, at most {MAX_EPC_PAGES} are supported")]
    TooLarge(u64),
    /// `max_lps` is zero.
    #[error("max_lps: at least one logical processor is needed")]
    NoLps,
}

/// Where each section starts, resolved from a validated configuration.
#[derive(Clone, Debug)]
pub struct EpcLayout {
    sections: Vec<SectionLayout>,
    total: u32,
}

/// One section's place in the page id space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionLayout {
    /// The section.
    pub id: SectionId,
    /// Its first page.
    pub first: EpcPageId,
    /// Its number of pages.
    pub pages: u32,
    /// Its NUMA node.
    pub node: NodeId,
}

impl SectionLayout {
    /// The section's pages, in order.
    pub fn page_ids(&self) -> impl Iterator<Item = EpcPageId> {
        let first = self.first.0;
        (first..first + self.pages).map(EpcPageId)
    }
}

impl EpcLayout {
    /// Lays the sections out one after another. The configuration must be
    /// valid.
    pub fn new(sections: &[SectionConfig]) -> Self {
        let mut first = 0u32;
        let mut out = Vec::with_capacity(sections.len());
        for (i, s) in sections.iter().enumerate() {
            out.push(SectionLayout {
                id: SectionId(i as u8),
                first: EpcPageId(first),
                pages: s.pages,
                node: s.node,
            });
            first += s.pages;
        }
        EpcLayout {
            sections: out,
            total: first,
        }
    }

    /// The sections.
    pub fn sections(&self) -> &[SectionLayout] {
        &self.sections
    }

    /// Total number of pages.
    pub fn total_pages(&self) -> u32 {
        self.total
    }

    /// Whether `page` names a page of this EPC.
    pub fn contains(&self, page: EpcPageId) -> bool {
        page.0 < self.total
    }

    /// The section holding `page`, if it is an EPC page.
    pub fn section_of(&self, page: EpcPageId) -> Option<&SectionLayout> {
        self.sections
            .iter()
            .find(|s| page.0 >= s.first.0 && page.0 - s.first.0 < s.pages)
    }
}
