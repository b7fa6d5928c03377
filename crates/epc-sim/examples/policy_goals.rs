//! The project's policy goals (issue 14 item 2) as a reproducible benchmark:
//! `cargo run --release -p epc-sim --example policy_goals [-- --suite-only]
//! [--only clock,tide,mglru] [--traces DIR:a,b,c]` prints the Markdown tables
//! of `docs/POLICIES.md`. `--only` restricts the policies (clock, LRU, OPT,
//! the default policy and mglru are always run); `--traces` replaces both
//! trace sets with other traces (`NAME.trace.xz` or `NAME.trace.zst` in DIR), for programs kept
//! out of tuning.
//!
//! For each trace set it runs every policy at every size (in parallel),
//! then reports misses, each policy's mean reduction against `clock` and
//! LRU (a reduction is `(base − policy) / base` for one trace at one size;
//! the mean is the plain mean), the OPT floor, the share of the clock→OPT
//! gap closed, and whether each goal is met.

use epc_mm::PolicyKind;
use epc_sim::offline::{par_map, simulate, Capacity, SimPolicy, Trace};
use std::fmt::Write as _;
use std::path::Path;

const SUITE: &[&str] = &[
    "2_pools", "backf", "cpp", "cs", "gli", "loop", "multi1", "multi2", "multi3", "ps", "scan",
    "sprite", "zigzag",
];
const REAL: &[&str] = &["w106", "orm-busy", "web12"];
const GUARD: &[&str] = &["sprite", "2_pools", "zigzag", "backf"];
/// The manager's default policy, whose goals these are.
const OWN: SimPolicy = SimPolicy::Live(PolicyKind::Tide);
const MGLRU: SimPolicy = SimPolicy::Live(PolicyKind::Mglru);

fn policies(only: Option<&str>) -> Vec<SimPolicy> {
    let mut v = vec![SimPolicy::CLOCK, SimPolicy::Lru, SimPolicy::Opt, OWN, MGLRU];
    for p in SimPolicy::all() {
        let wanted = only.is_none_or(|o| {
            o.split(',')
                .any(|n| SimPolicy::from_name(n).ok() == Some(*p))
        });
        if wanted && !v.contains(p) {
            v.push(*p);
        }
    }
    v
}

struct Set {
    traces: Vec<String>,
    sizes: Vec<u32>,
    /// misses[trace][size][policy]
    misses: Vec<Vec<Vec<u64>>>,
    caps: Vec<Vec<usize>>,
}

fn run(dir: &Path, names: &[&str], sizes: &[u32], policies: &[SimPolicy]) -> Set {
    let traces: Vec<Trace> = par_map(names, 0, |n| {
        let path = ["xz", "zst"]
            .map(|ext| dir.join(format!("{n}.trace.{ext}")))
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {n}.trace.xz or {n}.trace.zst in {}", dir.display()));
        Trace::load(path).expect("a readable trace")
    });
    let jobs: Vec<(usize, usize, usize)> = (0..traces.len())
        .flat_map(|t| {
            (0..sizes.len()).flat_map(move |s| (0..policies.len()).map(move |p| (t, s, p)))
        })
        .collect();
    let res = par_map(&jobs, 0, |&(t, s, p)| {
        simulate(
            &traces[t],
            Capacity::Percent(f64::from(sizes[s])),
            policies[p],
        )
        .misses
    });
    let mut misses = vec![vec![vec![0; policies.len()]; sizes.len()]; traces.len()];
    for (&(t, s, p), m) in jobs.iter().zip(res) {
        misses[t][s][p] = m;
    }
    Set {
        traces: names.iter().map(|s| s.to_string()).collect(),
        sizes: sizes.to_vec(),
        caps: traces
            .iter()
            .map(|t| {
                sizes
                    .iter()
                    .map(|&s| Capacity::Percent(f64::from(s)).pages(t.distinct()))
                    .collect()
            })
            .collect(),
        misses,
    }
}

fn red(base: u64, x: u64) -> f64 {
    if base == 0 {
        0.0
    } else {
        (base as f64 - x as f64) / base as f64 * 100.0
    }
}

/// Returns the default policy's mean reduction against clock, its share of
/// the clock→OPT gap closed, and mglru's mean reduction against clock.
fn report(out: &mut String, title: &str, set: &Set, policies: &[SimPolicy]) -> (f64, f64, f64) {
    let idx = |p: SimPolicy| policies.iter().position(|&q| q == p).unwrap();
    let (clock, lru, opt, own) = (
        idx(SimPolicy::CLOCK),
        idx(SimPolicy::Lru),
        idx(SimPolicy::Opt),
        idx(OWN),
    );
    let _ = writeln!(out, "### {title}\n");
    let _ = write!(out, "| trace | size | pages |");
    for p in policies {
        let _ = write!(out, " {} |", p.name());
    }
    let _ = writeln!(
        out,
        " {} vs clock | {} vs LRU | gap closed |",
        OWN.name(),
        OWN.name()
    );
    let _ = write!(out, "|---|---|---|");
    for _ in policies {
        let _ = write!(out, "---|");
    }
    let _ = writeln!(out, "---|---|---|");
    let n = set.traces.len() * set.sizes.len();
    let mut vs_clock = vec![0.0; policies.len()];
    let mut vs_lru = vec![0.0; policies.len()];
    let mut gap = vec![0.0; policies.len()];
    for (t, name) in set.traces.iter().enumerate() {
        for (s, size) in set.sizes.iter().enumerate() {
            let m = &set.misses[t][s];
            let _ = write!(out, "| {name} | {size}% | {} |", set.caps[t][s]);
            for x in m {
                let _ = write!(out, " {x} |");
            }
            let g = |p: usize| {
                let d = m[clock] as f64 - m[opt] as f64;
                if d <= 0.0 {
                    // clock is already optimal: nothing to close.
                    if m[p] <= m[clock] {
                        100.0
                    } else {
                        0.0
                    }
                } else {
                    (m[clock] as f64 - m[p] as f64) / d * 100.0
                }
            };
            let _ = writeln!(
                out,
                " {:+.1}% | {:+.1}% | {:.0}% |",
                red(m[clock], m[own]),
                red(m[lru], m[own]),
                g(own)
            );
            for p in 0..policies.len() {
                vs_clock[p] += red(m[clock], m[p]) / n as f64;
                vs_lru[p] += red(m[lru], m[p]) / n as f64;
                gap[p] += g(p) / n as f64;
            }
        }
    }
    let _ = writeln!(
        out,
        "\nMeans over the {n} runs (reduction of misses; positive is better):\n"
    );
    let _ = writeln!(out, "| policy | vs clock | vs LRU | clock→OPT gap closed |");
    let _ = writeln!(out, "|---|---|---|---|");
    for (p, pol) in policies.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {:+.2}% | {:+.2}% | {:.1}% |",
            pol.name(),
            vs_clock[p],
            vs_lru[p],
            gap[p]
        );
    }
    out.push('\n');
    (vs_clock[own], gap[own], vs_clock[idx(MGLRU)])
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn main() {
    let suite_only = std::env::args().any(|a| a == "--suite-only");
    let only = arg("--only");
    let policies = policies(only.as_deref());
    let mut out = String::new();
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    if let Some(spec) = arg("--traces") {
        // Other programs' traces: the same tables, no goals.
        let (dir, names) = spec.split_once(':').expect("--traces DIR:a,b,c");
        let names: Vec<&str> = names.split(',').collect();
        let set = run(Path::new(dir), &names, &[5, 10, 20, 40], &policies);
        report(&mut out, "Recorded traces, 5/10/20/40 %", &set, &policies);
        println!("{out}");
        return;
    }
    let suite = run(&shared, SUITE, &[5, 10, 20, 40], &policies);
    let (suite_mean, suite_gap, suite_mglru) =
        report(&mut out, "LIRS suite, 5/10/20/40 %", &suite, &policies);
    let (clock, own) = (0, policies.iter().position(|&p| p == OWN).unwrap());
    let mut worst = (f64::MIN, String::new());
    for name in GUARD {
        let t = suite.traces.iter().position(|n| n == name).unwrap();
        for (s, size) in suite.sizes.iter().enumerate() {
            let m = &suite.misses[t][s];
            let more = -red(m[clock], m[own]);
            if more > worst.0 {
                worst = (more, format!("{name} @{size}%"));
            }
        }
    }
    let mut goals = vec![
        format!(
            "| ≥ 15 % fewer misses than clock, mean over the LIRS suite at 5–40 % | {suite_mean:+.2}% (gap closed {suite_gap:.1}%) | {} |",
            verdict(suite_mean >= 15.0)
        ),
        format!(
            "| never > 3 % more misses than clock on sprite, 2_pools, zigzag, backf | worst {:+.2}% ({}) | {} |",
            worst.0,
            worst.1,
            verdict(worst.0 <= 3.0)
        ),
        format!(
            "| no worse than mglru on the LIRS suite's mean | {suite_mean:+.2}% vs {suite_mglru:+.2}% | {} |",
            verdict(suite_mean >= suite_mglru)
        ),
    ];
    if !suite_only {
        let real = run(&shared, REAL, &[5, 10, 20], &policies);
        let (real_mean, real_gap, real_mglru) = report(
            &mut out,
            "w106, orm-busy, web12, 5/10/20 %",
            &real,
            &policies,
        );
        goals.insert(
            1,
            format!(
                "| ≥ 9 % fewer misses than clock, mean over w106, orm-busy, web12 at 5–20 % | {real_mean:+.2}% (gap closed {real_gap:.1}%) | {} |",
                verdict(real_mean >= 9.0)
            ),
        );
        goals.push(format!(
            "| no worse than mglru on the real traces' mean | {real_mean:+.2}% vs {real_mglru:+.2}% | {} |",
            verdict(real_mean >= real_mglru)
        ));
    }
    println!("### Goals for `{}`\n", OWN.name());
    println!("| goal | measured | |\n|---|---|---|");
    for g in goals {
        println!("{g}");
    }
    println!("\n{out}");
}
