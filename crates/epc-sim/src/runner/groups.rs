//! The scenario's EPC cgroups in the manager: created before the enclaves
//! are built (parents first), their limits written by `set_max` events,
//! sampled for the time series and reported at the end. The one place the
//! runner uses the manager's groups API.

use super::slot::Slot;
use crate::report::{CgroupReport, CgroupSample};
use crate::scenario::{Scenario, ROOT_CGROUP};
use crate::SimError;
use epc_mm::{EpcManager, GroupId, GroupLimits, GroupStats};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The groups of a run: the root first, then the scenario's, parents
/// first.
#[derive(Debug)]
pub(crate) struct Groups {
    ids: Vec<GroupId>,
    paths: Vec<String>,
}

fn to_pages(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

impl Groups {
    /// Creates the groups of `s` in `mm`.
    pub(crate) fn create(mm: &EpcManager, s: &Scenario) -> Result<Groups, SimError> {
        let mut ids = vec![GroupId::ROOT];
        let mut paths = vec![ROOT_CGROUP.to_owned()];
        for c in &s.cgroups {
            let limits = GroupLimits {
                max: c.max.map(to_pages),
                low: to_pages(c.low),
            };
            let policy = c.policy.unwrap_or(s.manager.policy);
            let id = mm
                .create_group(&c.path, limits, policy)
                .map_err(|e| SimError::input(format!("cgroup {}: {e}", c.path)))?;
            ids.push(id);
            paths.push(c.path.clone());
        }
        Ok(Groups { ids, paths })
    }

    /// The paths, root first (the order of samples).
    pub(crate) fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The group at `path` (checked when the scenario was parsed).
    pub(crate) fn id(&self, path: &str) -> GroupId {
        self.paths
            .iter()
            .position(|p| p == path)
            .map_or(GroupId::ROOT, |i| self.ids[i])
    }

    /// Writes the limit of the group at `path` (`set_max`).
    pub(crate) fn set_max(
        &self,
        mm: &EpcManager,
        path: &str,
        max: Option<u64>,
    ) -> Result<(), SimError> {
        mm.set_max(self.id(path), max.map(to_pages))
            .map_err(|e| SimError::system(format!("set_max on {path}: {e}")))
    }

    fn stats(&self, mm: &EpcManager) -> Vec<GroupStats> {
        let all = mm.groups();
        self.ids
            .iter()
            .filter_map(|id| all.iter().find(|g| g.id == *id).cloned())
            .collect()
    }

    /// Each group's usage and limit now.
    pub(crate) fn sample(&self, mm: &EpcManager) -> Vec<CgroupSample> {
        self.stats(mm)
            .iter()
            .map(|g| CgroupSample {
                current: g.current as u64,
                max: g.max.map(|m| m as u64),
            })
            .collect()
    }

    /// The `cgroups` object of the report: each group now (its counters
    /// since it was created, the builds included), and the faults of the
    /// enclaves charged to it.
    pub(crate) fn report(
        &self,
        mm: &EpcManager,
        slots: &[Arc<Slot>],
    ) -> BTreeMap<String, CgroupReport> {
        let stats = self.stats(mm);
        stats
            .iter()
            .zip(&self.paths)
            .map(|(g, path)| {
                let faults = slots
                    .iter()
                    .filter(|s| s.spec.cgroup == *path)
                    .filter_map(|s| s.enclave())
                    .map(|e| e.counters().faults)
                    .sum();
                (
                    path.clone(),
                    CgroupReport {
                        max: g.max.map(|m| m as u64),
                        low: g.low as u64,
                        current: g.current as u64,
                        peak: g.peak as u64,
                        events_max: g.events_max,
                        evicted: g.evicted,
                        faults,
                        policy: g.policy.to_owned(),
                    },
                )
            })
            .collect()
    }
}
