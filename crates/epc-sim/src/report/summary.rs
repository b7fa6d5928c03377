//! The summary table a person reads after a run: counters from every
//! layer, fault latency, swap throughput, modelled cycles beside wall
//! time, the backing store, each enclave and EPC cgroup, the timeline and
//! the integrity result.

use super::RunReport;
use std::fmt::Write as _;

/// A two-column table of labels and values.
#[derive(Clone, Debug, Default)]
pub struct Table {
    rows: Vec<(String, String)>,
}

impl Table {
    /// Adds a row; an empty label starts a section with `value` as title.
    pub fn row(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.rows.push((label.into(), value.into()));
    }

    /// Renders with aligned columns.
    pub fn render(&self) -> String {
        let w = self.rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let mut s = String::new();
        for (l, v) in &self.rows {
            if l.is_empty() {
                let _ = writeln!(s, "\n{v}");
            } else {
                let _ = writeln!(s, "  {l:<w$}  {v}");
            }
        }
        s
    }
}

fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1e3)
}

/// The summary of a run.
pub fn run_summary(r: &RunReport) -> Table {
    let mut t = Table::default();
    let c = |k: &str| r.counters.get(k).copied().unwrap_or(0).to_string();
    t.row(
        "",
        format!(
            "scenario {:?}: EPC {} pages ({:.0} MiB), policy {}, {} enclaves{}{}",
            r.scenario,
            r.epc_pages,
            r.epc_pages as f64 * 4096.0 / 1048576.0,
            r.policy,
            r.enclaves.len(),
            if r.vms.is_empty() {
                String::new()
            } else {
                format!(", {} VMs", r.vms.len())
            },
            if r.interrupted { " (interrupted)" } else { "" }
        ),
    );
    t.row(
        "wall time",
        format!("{:.2} s (build {:.2} s)", r.wall_seconds, r.build_seconds),
    );
    t.row(
        "modelled time",
        format!(
            "{} cycles ({:.3} s at 3 GHz)",
            r.modelled_cycles,
            r.modelled_cycles as f64 / 3e9
        ),
    );
    t.row(
        "accesses",
        format!("{} ({} TLB hits)", r.accesses, r.tlb_hits),
    );
    t.row("", "enclave layer".to_string());
    for k in [
        "faults",
        "eldu",
        "ewb",
        "eblock",
        "etrack",
        "not_tracked",
        "prev_trk_incmpl",
        "ipi_rounds",
        "busy_retries",
        "secs_evictions",
        "secs_reloads",
    ] {
        t.row(k, c(k));
    }
    // The SGX2 (EDMM) flows, shown when the run used them or hit an
    // access error.
    let sgx2 = [
        "eaug",
        "eaccept",
        "emodpr",
        "emodt",
        "eremove_trim",
        "access_errors",
    ];
    if sgx2
        .iter()
        .any(|k| r.counters.get(*k).copied().unwrap_or(0) > 0)
    {
        t.row("", "SGX2 (EDMM)".to_string());
        for k in sgx2 {
            t.row(k, c(k));
        }
    }
    t.row("", "hardware".to_string());
    for k in ["aex", "ipis", "eenter", "eresume", "failed_leaves"] {
        t.row(k, c(k));
    }
    t.row("", "manager".to_string());
    for k in [
        "ksgxd_wakeups",
        "ksgxd_evicted",
        "direct_reclaims",
        "throttled",
        "assisted",
        "assisted_evicted",
        "batches",
        "pages_scanned",
        "second_chances",
        "evicted",
        "declined",
        "skipped",
        "alloc_failures",
    ] {
        t.row(k, c(k));
    }
    t.row(
        "watermarks",
        if r.deterministic {
            "unused (deterministic)".to_string()
        } else {
            format!(
                "{}: {}/{} configured, {}/{} effective at the end",
                r.watermarks,
                r.low_watermark,
                r.high_watermark,
                r.effective_low_watermark,
                r.effective_high_watermark
            )
        },
    );
    let l = r.latency_ns.fault;
    t.row("", "fault latency".to_string());
    t.row(
        "p50 / p90 / p99",
        format!("{} / {} / {}", us(l.p50), us(l.p90), us(l.p99)),
    );
    t.row("p99.9 / max", format!("{} / {}", us(l.p999), us(l.max)));
    t.row("", "swap".to_string());
    t.row(
        "throughput",
        format!(
            "{:.0} ELDU/s, {:.0} EWB/s, {:.1} MiB/s",
            r.swap.eldu_per_second, r.swap.ewb_per_second, r.swap.mib_per_second
        ),
    );
    t.row(
        "backing store",
        format!("{:.1} MiB", r.backing_bytes as f64 / 1048576.0),
    );
    t.row("", "enclaves".to_string());
    for e in &r.enclaves {
        t.row(e.name.clone(), enclave_row(e));
    }
    if !r.vms.is_empty() {
        t.row("", "virtual machines (vEPC over host EPC)".to_string());
        for v in &r.vms {
            vm_rows(&mut t, v);
        }
        if let Some(h) = &r.vm_host {
            let g = |k: &str| h.get(k).copied().unwrap_or(0);
            t.row(
                "host side",
                format!(
                    "{} vEPC pages backed, {} SIGBUS, {} releases: {} + {} pages removed \
                     (first + second pass), {} SGX_ENCLAVE_ACT, {} zombies ({} left)",
                    g("vepc_faults"),
                    g("sigbus"),
                    g("releases"),
                    g("eremove_first_pass"),
                    g("eremove_second_pass"),
                    g("enclave_act"),
                    g("zombies_added"),
                    g("zombies_left")
                ),
            );
        }
    }
    t.row("", "EPC cgroups (pages)".to_string());
    t.row(
        "path",
        format!(
            "{:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8}  policy",
            "max", "low", "current", "peak", "events_max", "evicted", "faults"
        ),
    );
    for (path, g) in &r.cgroups {
        t.row(
            path.clone(),
            format!(
                "{:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8}  {}",
                g.max.map_or("max".to_string(), |m| m.to_string()),
                g.low,
                g.current,
                g.peak,
                g.events_max,
                g.evicted,
                g.faults,
                g.policy
            ),
        );
    }
    if !r.events.is_empty() {
        t.row("", "timeline".to_string());
        for ev in &r.events {
            let what = &ev.detail;
            t.row(
                format!("{:.2} s", ev.at),
                match ev.applied_at {
                    Some(a) => format!(
                        "{} {what} (applied at {a:.2} s){}",
                        ev.kind,
                        ev.outcome
                            .as_ref()
                            .map_or(String::new(), |o| format!(": {o}"))
                    ),
                    None => format!("{} {what} (not applied: the run ended first)", ev.kind),
                },
            );
        }
    }
    t.row("", "integrity".to_string());
    t.row(
        "result",
        format!(
            "{}: {} pages checked, {} corrupt, {} bad reads{}",
            if r.integrity.ok { "OK" } else { "FAILED" },
            r.integrity.pages_checked,
            r.integrity.corrupt,
            r.integrity.corrupt_reads,
            killed_apart(&r.integrity)
        ),
    );
    t.row(
        "teardown",
        match (&r.integrity.manager_error, r.integrity.pages_leaked) {
            (None, 0) => "every page free again, manager consistent".to_string(),
            (None, n) => format!("FAILED: {n} pages still allocated"),
            (Some(e), n) => format!("FAILED: {n} pages still allocated; manager: {e}"),
        },
    );
    t
}

/// The killed enclaves (not checked), by cause: memory failure and loss of
/// the EPC apart from the rest.
fn killed_apart(i: &super::Integrity) -> String {
    if i.enclaves_killed == 0 {
        return String::new();
    }
    let other = i.enclaves_killed - i.killed_by_memory_failure - i.lost_with_the_epc;
    let mut parts = Vec::new();
    if i.killed_by_memory_failure > 0 {
        parts.push(format!(
            "{} killed by memory failure",
            i.killed_by_memory_failure
        ));
    }
    if i.lost_with_the_epc > 0 {
        parts.push(format!("{} lost with the EPC", i.lost_with_the_epc));
    }
    if other > 0 {
        parts.push(format!("{other} killed otherwise"));
    }
    format!(" (enclaves not checked: {}; see above)", parts.join(", "))
}

/// One enclave's line.
fn enclave_row(e: &super::EnclaveReport) -> String {
    let g = |k: &str| e.counters.get(k).copied().unwrap_or(0);
    let mut life = String::new();
    match e.started_at {
        Some(t) if t > 0.0 => life += &format!(", started at {t:.2} s"),
        Some(_) => {}
        None => life += ", never started",
    }
    if let Some(t) = e.stopped_at {
        life += &format!(", stopped at {t:.2} s");
    }
    if e.restarts > 0 {
        life += &format!(", rebuilt {} time(s)", e.restarts);
    }
    format!(
        "{} pages, {} threads, {} accesses, {} faults, {} resident at end{life}{}{}",
        e.pages,
        e.threads,
        e.accesses,
        g("faults"),
        e.resident_pages_at_end,
        match &e.failed {
            Some(why) => format!(", FAILED: {why}"),
            None => String::new(),
        },
        match (&e.kill_reason, &e.error) {
            (Some(k), _) if e.kill_kind.as_deref() == Some("epc_lost") => {
                format!(", LOST: {k}")
            }
            (Some(k), _) if e.kill_kind.as_deref() == Some("memory_failure") => {
                format!(", KILLED by memory failure: {k}")
            }
            (Some(k), _) => format!(", KILLED: {k}"),
            (None, Some(err)) => format!(", error: {err}"),
            _ => String::new(),
        }
    )
}

/// One VM's block: its vEPC and the host pages behind it, whether it
/// failed, its guest manager's paging, and its enclaves.
fn vm_rows(t: &mut Table, v: &super::VmReport) {
    let g = |k: &str| v.guest.counters.get(k).copied().unwrap_or(0);
    let mut life = String::new();
    match v.started_at {
        Some(s) if s > 0.0 => life += &format!(", started at {s:.2} s"),
        Some(_) => {}
        None => life += ", never started",
    }
    if v.reboots > 0 {
        life += &format!(", rebooted {} time(s)", v.reboots);
    }
    if let Some(s) = v.stopped_at {
        life += &format!(", stopped at {s:.2} s");
    }
    t.row(
        v.name.clone(),
        format!(
            "vEPC {} pages ({}), host pages {} held at end / {} peak{life}, {}",
            v.epc_pages,
            if v.prealloc {
                "preallocated"
            } else {
                "on demand"
            },
            v.host_pages,
            v.peak_host_pages,
            match &v.failed {
                Some(why) => format!("FAILED: {why}"),
                None => "healthy".to_string(),
            }
        ),
    );
    t.row(
        format!("{} guest", v.name),
        format!(
            "{} evictions, {} reloads (ELDU), {} faults, {} ksgxd wake-ups, {} direct reclaims",
            g("evicted"),
            g("eldu"),
            g("faults"),
            g("ksgxd_wakeups"),
            g("direct_reclaims")
        ),
    );
    if !v.guest.enclaves.is_empty() {
        let i = &v.integrity;
        t.row(
            format!("{} integrity", v.name),
            format!(
                "{}: {} pages checked, {} corrupt, {} bad reads{}",
                if i.ok { "OK" } else { "FAILED" },
                i.pages_checked,
                i.corrupt,
                i.corrupt_reads,
                killed_apart(i)
            ),
        );
    }
    for e in &v.guest.enclaves {
        t.row(format!("{}/{}", v.name, e.name), enclave_row(e));
    }
}
