//! Virtual machines in a scenario: `[[vm]]` tables, each a guest with its
//! own virtual EPC (vEPC) backed by host EPC pages, its own EPC manager
//! (`[vm.manager]`, the same keys as the host's `[manager]`) and its own
//! enclaves (`[[vm.enclave]]`, the same fields as the host's
//! `[[enclave]]`), checked here; the runner starts them
//! (`runner/vm.rs`).

use super::enclave::{parse_enclave, Context, RawEnclave};
use super::manager::{parse_manager, RawManager};
use super::{min_pages, EnclaveSpec, ManagerSpec};
use serde::Deserialize;

/// The largest vEPC a scenario may ask for, in pages (64 GiB).
const MAX_VEPC_PAGES: u32 = 1 << 24;

/// One virtual machine of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct VmSpec {
    /// Its name, unique among the VMs (reports, time series columns,
    /// timeline events).
    pub name: String,
    /// Its vEPC size in pages.
    pub epc_pages: u32,
    /// Whether every host page behind the vEPC is allocated when the VM
    /// starts (as QEMU usually does); otherwise each on the guest's first
    /// use of the vEPC page.
    pub prealloc: bool,
    /// The host EPC cgroup its host pages are charged to (`/`: the root).
    pub cgroup: String,
    /// The host node its host pages come from first.
    pub node: u16,
    /// The guest's EPC manager.
    pub manager: ManagerSpec,
    /// The guest's enclaves. Each is on the guest's one node, 0, and
    /// charged to the guest's root group.
    pub enclaves: Vec<EnclaveSpec>,
}

impl VmSpec {
    /// The fewest vEPC pages its enclaves can run in (as
    /// [`super::Scenario::min_epc_pages`] for the host).
    pub fn min_epc_pages(&self) -> u64 {
        min_pages(&self.enclaves, &self.manager)
    }
}

/// A `[[vm]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVm {
    name: Option<String>,
    epc_pages: Option<u32>,
    prealloc: Option<bool>,
    cgroup: Option<String>,
    node: Option<u16>,
    manager: Option<RawManager>,
    #[serde(default)]
    enclave: Vec<RawEnclave>,
}

type Bad = (String, String);

/// Checks the `[[vm]]` tables against the host's nodes (`nodes`, the
/// default first) and declared groups (`cgroups`).
pub(super) fn parse_vms(
    raw: &[RawVm],
    nodes: &[u16],
    cgroups: &[String],
) -> Result<Vec<VmSpec>, Bad> {
    let mut vms: Vec<VmSpec> = Vec::new();
    for (i, v) in raw.iter().enumerate() {
        let f = |name: &str| format!("vm[{i}].{name}");
        let name = v.name.clone().unwrap_or_else(|| format!("vm{i}"));
        if name.is_empty() || name.chars().any(|c| c == ',' || c == '"' || c.is_control()) {
            return Err((
                f("name"),
                format!(
                    "{name:?}: a VM name is not empty and has no ',', '\"' or control characters"
                ),
            ));
        }
        if let Some(j) = vms.iter().position(|o| o.name == name) {
            return Err((f("name"), format!("{name:?} is also vm[{j}]'s name")));
        }
        let epc_pages = v
            .epc_pages
            .ok_or_else(|| (f("epc_pages"), "missing: the vEPC size in pages".into()))?;
        // A guest's first enclave needs a SECS and a VA page.
        if !(2..=MAX_VEPC_PAGES).contains(&epc_pages) {
            return Err((
                f("epc_pages"),
                format!("must be 2 to {MAX_VEPC_PAGES} (got {epc_pages})"),
            ));
        }
        let cgroup = v
            .cgroup
            .clone()
            .unwrap_or_else(|| super::ROOT_CGROUP.to_owned());
        if cgroup != super::ROOT_CGROUP && !cgroups.contains(&cgroup) {
            return Err((
                f("cgroup"),
                format!("no [[cgroup]] has the path {cgroup:?}"),
            ));
        }
        let node = v.node.unwrap_or(nodes[0]);
        if !nodes.contains(&node) {
            return Err((f("node"), format!("no host EPC section is on node {node}")));
        }
        let manager = parse_manager(v.manager.as_ref(), &f("manager"))?;
        // The guest's manager has one section, on node 0, and its own
        // groups are not modelled: its enclaves are all in its root.
        let cx = Context {
            nodes: &[0],
            cgroups: &[],
            root_only: Some(
                "a guest enclave is charged to its guest's root group \"/\" \
                 (the VM's host pages are charged to vm.cgroup)",
            ),
        };
        let mut enclaves = Vec::new();
        for (j, e) in v.enclave.iter().enumerate() {
            let at = f(&format!("enclave[{j}]"));
            enclaves.push(parse_enclave(e, &at, format!("{name}-enclave{j}"), &cx)?);
        }
        let spec = VmSpec {
            name,
            epc_pages,
            prealloc: v.prealloc.unwrap_or(false),
            cgroup,
            node,
            manager,
            enclaves,
        };
        let min = spec.min_epc_pages();
        if !spec.enclaves.is_empty() && u64::from(epc_pages) < min {
            return Err((
                f("epc_pages"),
                format!(
                    "vEPC too small for its enclaves: {epc_pages} pages, at least {min} are needed \
                     (SECS, VA, TCS and SSA pages of every guest enclave, a page per thread, a batch \
                     and the guest ksgxd's band)"
                ),
            ));
        }
        if !spec.manager.deterministic && spec.manager.high_watermark as u64 > u64::from(epc_pages)
        {
            return Err((
                f("manager.high_watermark"),
                format!(
                    "{} is above the vEPC size (epc_pages = {epc_pages})",
                    spec.manager.high_watermark
                ),
            ));
        }
        vms.push(spec);
    }
    Ok(vms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<VmSpec>, String> {
        #[derive(Deserialize)]
        struct T {
            vm: Vec<RawVm>,
        }
        let t: T = toml::from_str(text).map_err(|e| e.to_string())?;
        parse_vms(&t.vm, &[0, 1], &["/vms".to_owned()]).map_err(|(f, why)| format!("{f}: {why}"))
    }

    const GUEST: &str = "[[vm.enclave]]\nname = \"g\"\npages = 100\n[vm.enclave.workload]\nkind = \"uniform\"\naccesses = 10\n";

    #[test]
    fn a_vm_takes_defaults_and_its_enclaves() {
        let v = parse(&format!(
            "[[vm]]\nname = \"a\"\nepc_pages = 400\n[vm.manager]\nbatch = 8\n{GUEST}\
             [[vm]]\nepc_pages = 64\nprealloc = true\ncgroup = \"/vms\"\nnode = 1\n"
        ))
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].name.as_str(), v[0].prealloc, v[0].cgroup.as_str()),
            ("a", false, "/")
        );
        assert_eq!((v[0].manager.batch, v[0].manager.low_watermark), (8, 32));
        assert_eq!(v[0].enclaves[0].name, "g");
        assert_eq!(v[0].enclaves[0].node, 0);
        assert_eq!(
            (v[1].name.as_str(), v[1].prealloc, v[1].node),
            ("vm1", true, 1)
        );
        assert_eq!(v[1].cgroup, "/vms");
        assert!(v[1].enclaves.is_empty());
        assert!(v[0].min_epc_pages() <= 400);
    }

    #[test]
    fn bad_vms_name_the_field() {
        let e = |t: &str| parse(t).unwrap_err();
        assert!(e("[[vm]]\nname = \"a\"\n").starts_with("vm[0].epc_pages: missing"));
        assert!(e("[[vm]]\nepc_pages = 0\n").starts_with("vm[0].epc_pages: must be"));
        assert!(
            e("[[vm]]\nname = \"a\"\nepc_pages = 99\n[[vm]]\nname = \"a\"\nepc_pages = 99\n")
                .starts_with("vm[1].name: \"a\" is also vm[0]")
        );
        assert!(e("[[vm]]\nname = \"a,b\"\nepc_pages = 99\n").starts_with("vm[0].name"));
        assert!(e("[[vm]]\nepc_pages = 99\ncgroup = \"/x\"\n")
            .starts_with("vm[0].cgroup: no [[cgroup]]"));
        assert!(e("[[vm]]\nepc_pages = 99\nnode = 3\n").starts_with("vm[0].node"));
        assert!(e("[[vm]]\nepc_pages = 1\n").starts_with("vm[0].epc_pages: must be 2"));
        assert!(e("[[vm]]\nepc_pages = 40\n")
            .starts_with("vm[0].manager.high_watermark: 64 is above the vEPC size"));
        assert!(e("[[vm]]\nepc_pages = 99\n[vm.manager]\nbatch = 0\n")
            .starts_with("vm[0].manager.batch"));
        assert!(e(&format!("[[vm]]\nepc_pages = 80\n{GUEST}")).starts_with(
            "vm[0].epc_pages: vEPC too small for its enclaves: 80 pages, at least 85"
        ));
        assert!(e(&format!("[[vm]]\nepc_pages = 400\n{GUEST}")
            .replace("pages = 100\n", "pages = 100\nnode = 1\n"))
        .starts_with("vm[0].enclave[0].node"));
        assert!(e(&format!("[[vm]]\nepc_pages = 400\n{GUEST}")
            .replace("pages = 100\n", "pages = 100\ncgroup = \"/vms\"\n"))
        .starts_with("vm[0].enclave[0].cgroup: \"/vms\": a guest enclave"));
        assert!(
            e(&format!("[[vm]]\nepc_pages = 400\n{GUEST}").replace("uniform", "nope"))
                .starts_with("vm[0].enclave[0].workload.kind")
        );
        assert!(e("[[vm]]\nepc_pages = 99\nbogus = 1\n").contains("bogus"));
    }
}
