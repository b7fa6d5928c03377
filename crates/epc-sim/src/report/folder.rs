//! The report folder of a run: `report.json`, `timeseries.csv`, and the
//! plots (`free_pages`, `rates`, `resident`, `cgroups`, and `vms` when the
//! scenario has VMs, each as SVG and PNG).

use super::RunReport;
use crate::plot::{Chart, HLine, Series};
use crate::SimError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Writes the folder `dir` (created if need be); returns the files written.
pub fn write_run_folder(r: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, SimError> {
    let io = |p: &Path, e: &dyn std::fmt::Display| SimError::input(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
    let mut files = Vec::new();

    let json = dir.join("report.json");
    let text = serde_json::to_string_pretty(r).map_err(|e| io(&json, &e))?;
    std::fs::write(&json, text + "\n").map_err(|e| io(&json, &e))?;
    files.push(json);

    let csv = dir.join("timeseries.csv");
    std::fs::write(&csv, timeseries_csv(r)).map_err(|e| io(&csv, &e))?;
    files.push(csv);

    for (name, chart) in charts(r) {
        let base = dir.join(name);
        chart.write(&base).map_err(SimError::System)?;
        files.push(base.with_extension("svg"));
        files.push(base.with_extension("png"));
    }
    Ok(files)
}

/// The time series as CSV: one row per sample.
pub fn timeseries_csv(r: &RunReport) -> String {
    let mut s = String::from(
        "t_seconds,free_pages,low_watermark,high_watermark,faults,evictions,eldu,fault_rate,eviction_rate,reclaimable_pages",
    );
    // Names come from the scenario; keep the header one CSV field each.
    let clean = |n: &str| -> String {
        n.chars()
            .map(|c| {
                if c == ',' || c == '"' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect()
    };
    for n in &r.enclave_names {
        let _ = write!(s, ",resident_{}", clean(n));
    }
    for p in &r.cgroup_paths {
        let _ = write!(s, ",current_{}", clean(p));
    }
    for v in &r.vm_names {
        let _ = write!(s, ",host_pages_{}", clean(v));
    }
    s.push('\n');
    for x in &r.samples {
        let _ = write!(
            s,
            "{:.3},{},{},{},{},{},{},{:.1},{:.1},{}",
            x.t,
            x.free_pages,
            r.low_watermark,
            r.high_watermark,
            x.faults,
            x.evictions,
            x.eldu,
            x.fault_rate,
            x.eviction_rate,
            x.reclaimable_pages
        );
        for v in &x.resident {
            let _ = write!(s, ",{v}");
        }
        for g in &x.cgroups {
            let _ = write!(s, ",{}", g.current);
        }
        for v in &x.vm_host_pages {
            let _ = write!(s, ",{v}");
        }
        s.push('\n');
    }
    s
}

fn charts(r: &RunReport) -> Vec<(&'static str, Chart)> {
    let pts = |f: &dyn Fn(&super::Sample) -> f64| -> Vec<(f64, f64)> {
        r.samples.iter().map(|x| (x.t, f(x))).collect()
    };
    // The first sample's rate covers no interval: leave it out.
    let rate_pts = |f: &dyn Fn(&super::Sample) -> f64| -> Vec<(f64, f64)> {
        r.samples.iter().skip(1).map(|x| (x.t, f(x))).collect()
    };
    let free = Chart {
        title: format!(
            "Free EPC pages ({} pages, policy {})",
            r.epc_pages, r.policy
        ),
        x_label: "time (s)".into(),
        y_label: "free pages".into(),
        series: vec![Series {
            name: "free pages".into(),
            points: pts(&|x| x.free_pages as f64),
        }],
        limits: Vec::new(),
        hlines: if r.deterministic {
            Vec::new()
        } else {
            vec![
                HLine {
                    name: format!("low watermark ({})", r.low_watermark),
                    y: r.low_watermark as f64,
                },
                HLine {
                    name: format!("high watermark ({})", r.high_watermark),
                    y: r.high_watermark as f64,
                },
            ]
            .into_iter()
            .chain(
                (r.effective_low_watermark != r.low_watermark).then(|| HLine {
                    name: format!(
                        "{} low watermark at the end ({})",
                        r.watermarks, r.effective_low_watermark
                    ),
                    y: r.effective_low_watermark as f64,
                }),
            )
            .collect()
        },
    };
    let rates = Chart {
        title: "Fault and eviction rates".into(),
        x_label: "time (s)".into(),
        y_label: "pages per second".into(),
        series: vec![
            Series {
                name: "faults/s".into(),
                points: rate_pts(&|x| x.fault_rate),
            },
            Series {
                name: "evictions/s".into(),
                points: rate_pts(&|x| x.eviction_rate),
            },
        ],
        limits: Vec::new(),
        hlines: Vec::new(),
    };
    let resident = Chart {
        title: "Resident pages per enclave".into(),
        x_label: "time (s)".into(),
        y_label: "resident pages".into(),
        series: r
            .enclave_names
            .iter()
            .enumerate()
            .map(|(i, n)| Series {
                name: n.clone(),
                points: pts(&|x| x.resident.get(i).copied().unwrap_or(0) as f64),
            })
            .collect(),
        limits: Vec::new(),
        hlines: Vec::new(),
    };
    let mut all = vec![
        ("free_pages", free),
        ("rates", rates),
        ("resident", resident),
        ("cgroups", cgroups(r)),
    ];
    if !r.vm_names.is_empty() {
        all.push(("vms", vms(r)));
    }
    all
}

/// The host EPC divided over time, one line each: the host's own pages
/// (its enclaves', with their SECS and VA pages), each VM's host pages,
/// and the free pages; with the EPC's size.
fn vms(r: &RunReport) -> Chart {
    let vm_pages = |x: &super::Sample| x.vm_host_pages.iter().sum::<u64>();
    let mut series = vec![Series {
        name: "host enclaves".into(),
        points: r
            .samples
            .iter()
            .map(|x| {
                let used = r.epc_pages.saturating_sub(x.free_pages + vm_pages(x));
                (x.t, used as f64)
            })
            .collect(),
    }];
    for (i, name) in r.vm_names.iter().enumerate() {
        series.push(Series {
            name: format!("VM {name}"),
            points: r
                .samples
                .iter()
                .map(|x| (x.t, x.vm_host_pages.get(i).copied().unwrap_or(0) as f64))
                .collect(),
        });
    }
    series.push(Series {
        name: "free".into(),
        points: r
            .samples
            .iter()
            .map(|x| (x.t, x.free_pages as f64))
            .collect(),
    });
    Chart {
        title: "Host EPC: host enclaves, each VM, free pages".into(),
        x_label: "time (s)".into(),
        y_label: "host EPC pages".into(),
        series,
        limits: Vec::new(),
        hlines: vec![HLine {
            name: format!("EPC ({} pages)", r.epc_pages),
            y: r.epc_pages as f64,
        }],
    }
}

/// Each group's usage (solid) against its limit over time (dashed, same
/// colour; none while unlimited), and the EPC's size.
fn cgroups(r: &RunReport) -> Chart {
    let series = r
        .cgroup_paths
        .iter()
        .enumerate()
        .map(|(i, p)| Series {
            name: format!("{p} current"),
            points: r
                .samples
                .iter()
                .map(|x| (x.t, x.cgroups.get(i).map_or(0, |g| g.current) as f64))
                .collect(),
        })
        .collect();
    let limits = r
        .cgroup_paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // A step line: each limit holds until the next sample.
            let mut points = Vec::new();
            let mut prev: Option<u64> = None;
            for x in &r.samples {
                let max = x.cgroups.get(i).and_then(|g| g.max);
                if let (Some(a), Some(b)) = (prev, max) {
                    if a != b {
                        points.push((x.t, a as f64));
                    }
                }
                if let Some(m) = max {
                    points.push((x.t, m as f64));
                }
                prev = max;
            }
            Series {
                name: format!("{p} max"),
                points,
            }
        })
        .collect();
    Chart {
        title: "EPC cgroups: usage (solid) against limit (dashed)".into(),
        x_label: "time (s)".into(),
        y_label: "pages".into(),
        series,
        limits,
        hlines: vec![HLine {
            name: format!("EPC ({} pages)", r.epc_pages),
            y: r.epc_pages as f64,
        }],
    }
}
