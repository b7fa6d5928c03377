//! The TOML form of a scenario: parsing (unknown fields refused) and
//! checking every value, with messages that name the file and the field.

use super::enclave::{parse_enclave, Context};
use super::Scenario;
use crate::SimError;
use epc_hw::{CostTable, NodeId, SectionConfig};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    duration_seconds: Option<f64>,
    sample_ms: Option<u64>,
    epc: RawEpc,
    manager: Option<super::manager::RawManager>,
    costs: Option<BTreeMap<String, u64>>,
    #[serde(default)]
    enclave: Vec<super::enclave::RawEnclave>,
    #[serde(default)]
    cgroup: Vec<super::cgroup::RawCgroup>,
    #[serde(default)]
    vm: Vec<super::vm::RawVm>,
    /// Kept as tables: each kind takes its own fields (`event.rs`).
    #[serde(default)]
    event: Vec<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEpc {
    pages: Option<u32>,
    sections: Option<Vec<RawSection>>,
    tlb_entries: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    pages: u32,
    #[serde(default)]
    node: u16,
}

/// Parses `text` (from `origin`) into a checked scenario.
pub(super) fn parse(text: &str, origin: &str) -> Result<Scenario, SimError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(l) => SimError::input(format!("{origin}: line {l}: {}", e.message())),
            None => SimError::input(format!("{origin}: {}", e.message())),
        }
    })?;
    let bad = |field: &str, why: String| SimError::input(format!("{origin}: {field}: {why}"));
    let defaults = Scenario::default_run();

    let sections = match (&raw.epc.pages, &raw.epc.sections) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "epc.pages",
                "give either epc.pages or epc.sections, not both".into(),
            ))
        }
        (None, None) => {
            return Err(bad(
                "epc.pages",
                "missing: give epc.pages or epc.sections".into(),
            ))
        }
        (Some(p), None) => vec![SectionConfig {
            pages: *p,
            node: NodeId(0),
        }],
        (None, Some(s)) => s
            .iter()
            .map(|s| SectionConfig {
                pages: s.pages,
                node: NodeId(s.node),
            })
            .collect(),
    };
    if sections.is_empty() {
        return Err(bad("epc.sections", "at least one section is needed".into()));
    }
    for (i, s) in sections.iter().enumerate() {
        if s.pages == 0 {
            return Err(bad(
                &format!("epc.sections[{i}].pages"),
                "must be at least 1".into(),
            ));
        }
    }
    let nodes: Vec<u16> = sections.iter().map(|s| s.node.0).collect();

    let manager = super::manager::parse_manager(raw.manager.as_ref(), "manager")
        .map_err(|(f, why)| bad(&f, why))?;
    let mut costs = CostTable::default();
    for (k, v) in raw.costs.unwrap_or_default() {
        *cost_field(&mut costs, &k)
            .ok_or_else(|| bad(&format!("costs.{k}"), "unknown event".into()))? = v;
    }
    if let Some(d) = raw.duration_seconds {
        if !(d.is_finite() && d > 0.0) {
            return Err(bad(
                "duration_seconds",
                format!("must be positive (got {d})"),
            ));
        }
    }
    let cgroups = super::cgroup::parse_cgroups(&raw.cgroup).map_err(|(f, why)| bad(&f, why))?;
    let paths: Vec<String> = cgroups.iter().map(|c| c.path.clone()).collect();
    let cx = Context {
        nodes: &nodes,
        cgroups: &paths,
        root_only: None,
    };
    let mut enclaves = Vec::new();
    for (i, e) in raw.enclave.iter().enumerate() {
        let at = format!("enclave[{i}]");
        enclaves.push(
            parse_enclave(e, &at, format!("enclave{i}"), &cx).map_err(|(f, why)| bad(&f, why))?,
        );
    }
    let vms = super::vm::parse_vms(&raw.vm, &nodes, &paths).map_err(|(f, why)| bad(&f, why))?;
    if enclaves.is_empty() && vms.iter().all(|v| v.enclaves.is_empty()) {
        return Err(bad(
            "enclave",
            "at least one [[enclave]] (or [[vm.enclave]]) is needed".into(),
        ));
    }
    let names: Vec<String> = enclaves.iter().map(|e| e.name.clone()).collect();
    let vm_names: Vec<String> = vms.iter().map(|v| v.name.clone()).collect();
    let known = super::event::Known {
        enclaves: &names,
        vms: &vm_names,
        cgroups: &paths,
        duration: raw.duration_seconds,
    };
    let events = super::event::parse_events(raw.event, &known, origin)?;
    let s = Scenario {
        name: raw.name.unwrap_or_else(|| origin.to_owned()),
        duration_seconds: raw.duration_seconds,
        sample_ms: raw.sample_ms.unwrap_or(100).clamp(10, 60_000),
        sections,
        tlb_entries: raw.epc.tlb_entries.unwrap_or(defaults.tlb_entries),
        costs,
        manager,
        enclaves,
        cgroups,
        vms,
        events,
    };
    Ok(s)
}

/// The field of `costs` called `name` (the event names of the ledger).
fn cost_field<'a>(c: &'a mut CostTable, name: &str) -> Option<&'a mut u64> {
    Some(match name {
        "ecreate" => &mut c.ecreate,
        "eadd" => &mut c.eadd,
        "einit" => &mut c.einit,
        "eremove" => &mut c.eremove,
        "epa" => &mut c.epa,
        "eblock" => &mut c.eblock,
        "etrack" => &mut c.etrack,
        "ewb" => &mut c.ewb,
        "eldu" => &mut c.eldu,
        "eaug" => &mut c.eaug,
        "emodpr" => &mut c.emodpr,
        "emodt" => &mut c.emodt,
        "eremove_trim" => &mut c.eremove_trim,
        "eaccept" => &mut c.eaccept,
        "eacceptcopy" => &mut c.eacceptcopy,
        "emodpe" => &mut c.emodpe,
        "eenter" => &mut c.eenter,
        "eexit" => &mut c.eexit,
        "eresume" => &mut c.eresume,
        "aex" => &mut c.aex,
        "ipi" => &mut c.ipi,
        "page_fault" => &mut c.page_fault,
        "kernel_fault" => &mut c.kernel_fault,
        "failed_leaf" => &mut c.failed_leaf,
        _ => return None,
    })
}
