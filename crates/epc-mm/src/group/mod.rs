//! Groups: a tree of EPC cgroups (the misc controller's `sgx_epc`
//! resource, as the v16/v17 series designed it), each with its own
//! reclaimable list and policy instance. The root (`/`) always exists and
//! has id [`GroupId::ROOT`]; every page is charged to exactly one group.
//!
//! * `charge.rs` (one layer down) keeps the counters and the page→group
//!   map, lock-free;
//! * this file keeps the tree: paths, parents, one [`Reclaimable`] list per
//!   group, a fair cursor per group;
//! * `select.rs` picks the list the next batch reclaims from: within a
//!   subtree (a limit) or over every group (global pressure), skipping
//!   groups protected by `low` while anything unprotected is reclaimable.
//!
//! Groups are created at run time, up to [`MAX_GROUPS`](crate::MAX_GROUPS),
//! and never removed.

mod select;

pub use select::GlobalFairness;

use crate::charge::{Charges, MAX_GROUPS, UNLIMITED};
use crate::list::{ListTotals, Reclaimable};
use crate::policy::ReclaimPolicy;
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering};
use std::fmt;
use std::sync::OnceLock;
use thiserror::Error;

/// A group of one manager, as [`EpcManager::create_group`] returned it.
/// The enclave layer stores it with each enclave.
///
/// [`EpcManager::create_group`]: crate::EpcManager::create_group
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub(crate) u32);

impl GroupId {
    /// The root group, `/`: every page not charged to another group.
    pub const ROOT: GroupId = GroupId(0);

    /// The group's index (0 for the root), stable for the manager's life.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl Default for GroupId {
    fn default() -> Self {
        GroupId::ROOT
    }
}

/// A group's limits as created or written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupLimits {
    /// The hard limit in pages (`misc.max`); `None` is unlimited.
    pub max: Option<usize>,
    /// The protection in pages (as `memory.low`): while the group's usage
    /// is at or below it, its pages are reclaimed only when no unprotected
    /// group has anything to give.
    pub low: usize,
}

impl GroupLimits {
    /// No limit, no protection.
    pub const UNLIMITED: GroupLimits = GroupLimits { max: None, low: 0 };

    /// A hard limit of `pages` pages, no protection.
    pub fn max(pages: usize) -> Self {
        GroupLimits {
            max: Some(pages),
            low: 0,
        }
    }
}

/// A snapshot of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStats {
    /// Its id.
    pub id: GroupId,
    /// Its path: `/` for the root, `/a`, `/a/b`.
    pub path: String,
    /// Its parent (`None` for the root).
    pub parent: Option<GroupId>,
    /// Its own limit in pages (`None`: unlimited).
    pub max: Option<usize>,
    /// The smallest limit on the path to the root (`None`: unlimited).
    pub effective_max: Option<usize>,
    /// Its protection in pages.
    pub low: usize,
    /// Pages charged to it and its descendants (for the root: every
    /// allocated page).
    pub current: usize,
    /// The highest `current` reached.
    pub peak: usize,
    /// Times a charge would have passed this group's limit (`misc.events`
    /// `max`).
    pub events_max: u64,
    /// Pages evicted from this group's own list.
    pub evicted: u64,
    /// Pages on this group's own reclaimable list.
    pub reclaimable: usize,
    /// The name of its list's policy.
    pub policy: &'static str,
}

/// A group operation refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum GroupError {
    /// The path is not `/name` or `/name/name…` (names of letters, digits,
    /// `-`, `_`, `.`).
    #[error("path {0:?}: a group path is /name or /name/name (letters, digits, '-', '_', '.')")]
    BadPath(String),
    /// A group with this path exists.
    #[error("path {0:?}: the group already exists")]
    Exists(String),
    /// The parent of the path does not exist.
    #[error("path {0:?}: the parent group does not exist")]
    NoParent(String),
    /// The manager has [`MAX_GROUPS`](crate::MAX_GROUPS) groups.
    #[error("path {0:?}: too many groups (at most {MAX_GROUPS})")]
    TooMany(String),
    /// No such group in this manager.
    #[error("group {0:?} does not exist in this manager")]
    Unknown(GroupId),
    /// The root's limits cannot be set (as cgroup v2's root has no
    /// `misc.max`): it is bounded by the EPC.
    #[error("the root group has no limits to set")]
    RootLimits,
}

/// One group's tree node.
pub(crate) struct Node {
    pub(crate) path: String,
    pub(crate) parent: Option<usize>,
    pub(crate) list: Reclaimable,
    /// The fair cursor over this group's subtree (Linux v16's `next_cg`).
    cursor: AtomicUsize,
}

/// Every group of one manager.
pub(crate) struct Groups {
    nodes: Box<[OnceLock<Node>]>,
    count: AtomicUsize,
    create: Mutex<()>,
    totals: Arc<ListTotals>,
    fairness: GlobalFairness,
    /// The proportional selector's credits, per group.
    credits: Mutex<Vec<i64>>,
}

impl Groups {
    /// The root, with `policy`, alone.
    pub(crate) fn new(
        policy: Box<dyn ReclaimPolicy>,
        totals: Arc<ListTotals>,
        fairness: GlobalFairness,
    ) -> Self {
        let nodes: Box<[OnceLock<Node>]> = (0..MAX_GROUPS).map(|_| OnceLock::new()).collect();
        let root = Node {
            path: "/".to_owned(),
            parent: None,
            list: Reclaimable::new(policy, Arc::clone(&totals)),
            cursor: AtomicUsize::new(0),
        };
        let _ = nodes[0].set(root);
        Groups {
            nodes,
            count: AtomicUsize::new(1),
            create: Mutex::new(()),
            totals,
            fairness,
            credits: Mutex::new(Vec::new()),
        }
    }

    /// Groups created so far.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Group `g`, if it exists.
    #[inline]
    pub(crate) fn get(&self, g: usize) -> Option<&Node> {
        self.nodes.get(g).and_then(OnceLock::get)
    }

    /// The root.
    #[inline]
    pub(crate) fn root(&self) -> &Node {
        self.get(0).expect("the root always exists")
    }

    /// The group at `path`.
    pub(crate) fn find(&self, path: &str) -> Option<usize> {
        (0..self.len()).find(|&g| self.get(g).is_some_and(|n| n.path == path))
    }

    /// Creates the group at `path` with `limits` and `policy`.
    pub(crate) fn create(
        &self,
        charges: &Charges,
        path: &str,
        limits: GroupLimits,
        policy: Box<dyn ReclaimPolicy>,
    ) -> Result<usize, GroupError> {
        let parent_path = parent_of(path).ok_or_else(|| GroupError::BadPath(path.to_owned()))?;
        let _guard = self.create.lock();
        if self.find(path).is_some() {
            return Err(GroupError::Exists(path.to_owned()));
        }
        let parent = self
            .find(parent_path)
            .ok_or_else(|| GroupError::NoParent(path.to_owned()))?;
        let g = self.len();
        if g >= MAX_GROUPS {
            return Err(GroupError::TooMany(path.to_owned()));
        }
        charges.init(g, parent, limits.max.unwrap_or(UNLIMITED), limits.low);
        let node = Node {
            path: path.to_owned(),
            parent: Some(parent),
            list: Reclaimable::new(policy, Arc::clone(&self.totals)),
            cursor: AtomicUsize::new(0),
        };
        let _ = self.nodes[g].set(node);
        self.count.store(g + 1, Ordering::Release);
        Ok(g)
    }

    /// `g` and its descendants, in creation order (a parent before its
    /// children).
    pub(crate) fn subtree(&self, charges: &Charges, g: usize) -> Vec<usize> {
        (0..self.len())
            .filter(|&d| charges.is_ancestor(g, d))
            .collect()
    }

    /// A snapshot of group `g`, whose subtree holds `reserved` pages
    /// charged but unused (not counted in `current`).
    pub(crate) fn stats(
        &self,
        charges: &Charges,
        g: usize,
        allocated: usize,
        reserved: usize,
    ) -> GroupStats {
        let node = self.get(g).expect("a group that exists");
        let c = charges.cell(g);
        let limit = |v: usize| (v != UNLIMITED).then_some(v);
        let current = if g == 0 {
            allocated
        } else {
            c.current.load(Ordering::Relaxed).saturating_sub(reserved)
        };
        GroupStats {
            id: GroupId(g as u32),
            path: node.path.clone(),
            parent: node.parent.map(|p| GroupId(p as u32)),
            max: limit(c.max.load(Ordering::Relaxed)),
            effective_max: limit(charges.effective_max(g).0),
            low: c.low.load(Ordering::Relaxed),
            current,
            peak: c.peak.load(Ordering::Relaxed).max(current),
            events_max: c.events_max.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            reclaimable: node.list.nr_listed(),
            policy: node.list.policy_name(),
        }
    }
}

impl fmt::Debug for Groups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Groups").field("len", &self.len()).finish()
    }
}

/// The parent path of a well-formed non-root `path`.
fn parent_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let ok_name = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && n != "."
            && n != ".."
    };
    if !rest.split('/').all(ok_name) {
        return None;
    }
    Some(match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => return None,
    })
}
