//! How a VM is configured.

use crate::error::VmError;
use epc_hw::{NodeId, SectionConfig};
use epc_mm::{GroupId, ManagerConfig};

/// A virtual machine's vEPC and guest manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmConfig {
    /// Its name (in reports and failure reasons).
    pub name: String,
    /// The vEPC size in pages: the guest's whole EPC.
    pub epc_pages: u32,
    /// Back every vEPC page with a host page at start (QEMU's
    /// `prealloc=on`) instead of at the guest's first use of each.
    pub prealloc: bool,
    /// The host group the vEPC's host pages are charged to.
    pub group: GroupId,
    /// The host node host pages are allocated from first.
    pub node: NodeId,
    /// The guest manager's configuration (policy, watermarks, batch,
    /// deterministic mode). Its sections are replaced by one section of
    /// `epc_pages` pages on node 0: guest page ids `0..epc_pages`.
    pub manager: ManagerConfig,
}

impl VmConfig {
    /// A VM named `name` with a vEPC of `epc_pages` pages, on demand,
    /// charged to the host's root group, node 0, Linux's defaults for the
    /// guest manager.
    pub fn new(name: impl Into<String>, epc_pages: u32) -> VmConfig {
        VmConfig {
            name: name.into(),
            epc_pages,
            prealloc: false,
            group: GroupId::ROOT,
            node: NodeId(0),
            manager: ManagerConfig::with_pages(epc_pages),
        }
    }

    /// The guest manager's configuration over the vEPC, checked.
    pub(crate) fn guest_manager(&self) -> Result<ManagerConfig, VmError> {
        if self.name.is_empty() {
            return Err(VmError::Config("name: must not be empty".into()));
        }
        if self.epc_pages < 2 {
            return Err(VmError::Config(format!(
                "vm {}: epc_pages: {} is too small (at least 2: a SECS and a VA page)",
                self.name, self.epc_pages
            )));
        }
        let mut m = self.manager.clone();
        m.sections = vec![SectionConfig {
            pages: self.epc_pages,
            node: NodeId(0),
        }];
        m.validate()
            .map_err(|e| VmError::Config(format!("vm {}: manager: {e}", self.name)))?;
        Ok(m)
    }
}
