//! EPC cgroups in a scenario: `[[cgroup]]` tables (`path`, `max`, `low`,
//! `policy`), checked here; the runner creates them in the manager before
//! the enclaves are built (parents first).

use epc_mm::PolicyKind;
use serde::Deserialize;

/// The root group's path; every enclave without `cgroup` is charged to it.
pub const ROOT: &str = "/";

/// One group of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct CgroupSpec {
    /// Its path: `/a`, `/a/b`.
    pub path: String,
    /// Its limit in pages (`misc.max`); `None` is unlimited (`"max"`).
    pub max: Option<u64>,
    /// Its protection in pages (as `memory.low`).
    pub low: u64,
    /// The policy of its own reclaimable list; `None` is the manager's.
    pub policy: Option<PolicyKind>,
}

/// A `[[cgroup]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCgroup {
    path: String,
    max: Option<toml::Value>,
    low: Option<u64>,
    policy: Option<String>,
}

type Bad = (String, String);

/// A limit: pages (an integer ≥ 0) or `"max"` (unlimited).
pub(super) fn parse_max(v: &toml::Value, field: &str) -> Result<Option<u64>, Bad> {
    match v {
        toml::Value::Integer(i) if *i >= 0 => Ok(Some(*i as u64)),
        toml::Value::String(s) if s == "max" => Ok(None),
        v => Err((
            field.to_owned(),
            format!("must be a number of pages or \"max\" (got {v})"),
        )),
    }
}

/// Whether `path` is `/name` or `/name/name…` with names of letters,
/// digits, `-`, `_` and `.`.
fn well_formed(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        !rest.is_empty()
            && rest.split('/').all(|n| {
                !n.is_empty()
                    && n != "."
                    && n != ".."
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            })
    })
}

/// The parent path of a well-formed group path (`/` for `/a`).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => ROOT,
        Some(i) => &path[..i],
    }
}

/// Checks the `[[cgroup]]` tables: paths well formed and distinct, each
/// parent declared (or the root), `low` not above `max`, known policies.
/// The groups come back parents first (by depth, then in file order).
pub(super) fn parse_cgroups(raw: &[RawCgroup]) -> Result<Vec<CgroupSpec>, Bad> {
    let mut out: Vec<(usize, CgroupSpec)> = Vec::new();
    for (i, c) in raw.iter().enumerate() {
        let f = |name: &str| format!("cgroup[{i}].{name}");
        if i + 1 >= epc_mm::MAX_GROUPS {
            return Err((
                f("path"),
                format!(
                    "too many groups: at most {} besides the root",
                    epc_mm::MAX_GROUPS - 1
                ),
            ));
        }
        if c.path == ROOT {
            return Err((
                f("path"),
                "the root group \"/\" always exists and has no limits to set".into(),
            ));
        }
        if !well_formed(&c.path) {
            return Err((
                f("path"),
                format!(
                    "{:?}: a group path is /name or /name/name (letters, digits, '-', '_', '.')",
                    c.path
                ),
            ));
        }
        if let Some(j) = raw[..i].iter().position(|o| o.path == c.path) {
            return Err((f("path"), format!("{:?} is also cgroup[{j}]", c.path)));
        }
        let p = parent(&c.path);
        if p != ROOT && !raw.iter().any(|o| o.path == p) {
            return Err((f("path"), format!("the parent group {p:?} is not declared")));
        }
        let max = match &c.max {
            Some(v) => parse_max(v, &f("max"))?,
            None => None,
        };
        let low = c.low.unwrap_or(0);
        if let Some(m) = max.filter(|&m| low > m) {
            return Err((f("low"), format!("{low} is above max ({m})")));
        }
        let policy = match &c.policy {
            Some(name) => {
                Some(PolicyKind::from_name(name).map_err(|e| (f("policy"), e.to_string()))?)
            }
            None => None,
        };
        out.push((
            i,
            CgroupSpec {
                path: c.path.clone(),
                max,
                low,
                policy,
            },
        ));
    }
    out.sort_by_key(|(i, c)| (c.path.matches('/').count(), *i));
    Ok(out.into_iter().map(|(_, c)| c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<CgroupSpec>, String> {
        #[derive(Deserialize)]
        struct T {
            cgroup: Vec<RawCgroup>,
        }
        let t: T = toml::from_str(text).map_err(|e| e.to_string())?;
        parse_cgroups(&t.cgroup).map_err(|(f, why)| format!("{f}: {why}"))
    }

    #[test]
    fn groups_come_back_parents_first() {
        let g = parse(
            "[[cgroup]]\npath = \"/a/b\"\nmax = 10\n\
             [[cgroup]]\npath = \"/a\"\nmax = \"max\"\nlow = 4\npolicy = \"fifo\"\n",
        )
        .unwrap();
        assert_eq!(g[0].path, "/a");
        assert_eq!(
            (g[0].max, g[0].low, g[0].policy),
            (None, 4, Some(PolicyKind::Fifo))
        );
        assert_eq!(
            (g[1].path.as_str(), g[1].max, g[1].policy),
            ("/a/b", Some(10), None)
        );
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
    }

    #[test]
    fn bad_groups_name_the_field() {
        let e = |t: &str| parse(t).unwrap_err();
        assert!(e("[[cgroup]]\npath = \"a\"\n").starts_with("cgroup[0].path"));
        assert!(e("[[cgroup]]\npath = \"/a//b\"\n").starts_with("cgroup[0].path"));
        assert!(e("[[cgroup]]\npath = \"/\"\n").starts_with("cgroup[0].path"));
        assert!(e("[[cgroup]]\npath = \"/a/b\"\n").contains("parent group \"/a\""));
        assert!(e("[[cgroup]]\npath = \"/a\"\n[[cgroup]]\npath = \"/a\"\n")
            .starts_with("cgroup[1].path"));
        assert!(e("[[cgroup]]\npath = \"/a\"\nmax = -1\n").starts_with("cgroup[0].max"));
        assert!(e("[[cgroup]]\npath = \"/a\"\nmax = \"lots\"\n").starts_with("cgroup[0].max"));
        assert!(e("[[cgroup]]\npath = \"/a\"\nmax = 4\nlow = 5\n").starts_with("cgroup[0].low"));
        assert!(e("[[cgroup]]\npath = \"/a\"\npolicy = \"nope\"\n").starts_with("cgroup[0].policy"));
        assert!(e("[[cgroup]]\npath = \"/a\"\nlimit = 3\n").contains("limit"));
    }
}
