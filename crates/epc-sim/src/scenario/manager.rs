//! A manager's tunables in a scenario: the host's `[manager]` table and
//! each VM's `[vm.manager]` (the guest's own manager), parsed and checked
//! by the same code.

use epc_mm::{PolicyKind, Watermarks};
use serde::Deserialize;

/// The tunables of one EPC manager (the host's or a guest's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ManagerSpec {
    /// ksgxd wakes below this many free pages.
    pub low_watermark: usize,
    /// ksgxd reclaims up to this many free pages.
    pub high_watermark: usize,
    /// Whether the watermarks stay as given or adapt (the configured ones a
    /// floor).
    pub watermarks: Watermarks,
    /// Pages per reclaim batch.
    pub batch: usize,
    /// The victim policy.
    pub policy: PolicyKind,
    /// The manager's deterministic mode (no ksgxd).
    pub deterministic: bool,
}

impl Default for ManagerSpec {
    /// Linux's watermarks and batch, the default policy, ksgxd running.
    fn default() -> ManagerSpec {
        ManagerSpec {
            low_watermark: 32,
            high_watermark: 64,
            watermarks: Watermarks::default(),
            batch: 16,
            policy: PolicyKind::default(),
            deterministic: false,
        }
    }
}

impl ManagerSpec {
    /// Free pages ksgxd keeps besides the enclaves' own (its high
    /// watermark; none in deterministic mode).
    pub fn band(&self) -> u64 {
        if self.deterministic {
            0
        } else {
            self.high_watermark as u64
        }
    }
}

/// A `[manager]` or `[vm.manager]` table as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawManager {
    low_watermark: Option<usize>,
    high_watermark: Option<usize>,
    watermarks: Option<String>,
    batch: Option<usize>,
    policy: Option<String>,
    deterministic: Option<bool>,
}

type Bad = (String, String);

/// Checks a manager table (`at` is its name in messages: `manager`,
/// `vm[0].manager`); absent fields take [`ManagerSpec::default`]'s values.
pub(super) fn parse_manager(m: Option<&RawManager>, at: &str) -> Result<ManagerSpec, Bad> {
    let f = |name: &str| format!("{at}.{name}");
    let d = ManagerSpec::default();
    let Some(m) = m else {
        return Ok(d);
    };
    let policy = match &m.policy {
        Some(name) => PolicyKind::from_name(name).map_err(|e| (f("policy"), e.to_string()))?,
        None => d.policy,
    };
    let watermarks = match &m.watermarks {
        Some(name) => Watermarks::from_name(name).ok_or_else(|| {
            (
                f("watermarks"),
                format!("unknown mode {name:?} (known: adaptive, fixed, throttled, assisted)"),
            )
        })?,
        None => d.watermarks,
    };
    let s = ManagerSpec {
        low_watermark: m.low_watermark.unwrap_or(d.low_watermark),
        high_watermark: m.high_watermark.unwrap_or(d.high_watermark),
        watermarks,
        batch: m.batch.unwrap_or(d.batch),
        policy,
        deterministic: m.deterministic.unwrap_or(false),
    };
    if s.batch == 0 {
        return Err((f("batch"), "must be at least 1".into()));
    }
    if !s.deterministic && s.low_watermark >= s.high_watermark {
        return Err((
            f("low_watermark"),
            format!(
                "{} must be below {} ({})",
                s.low_watermark,
                f("high_watermark"),
                s.high_watermark
            ),
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ManagerSpec, String> {
        let raw: RawManager = toml::from_str(text).map_err(|e| e.to_string())?;
        parse_manager(Some(&raw), "vm[1].manager").map_err(|(f, why)| format!("{f}: {why}"))
    }

    #[test]
    fn absent_fields_take_the_defaults() {
        assert_eq!(parse("").unwrap(), ManagerSpec::default());
        assert_eq!(parse_manager(None, "manager"), Ok(ManagerSpec::default()));
        let m = parse("batch = 8\npolicy = \"fifo\"\ndeterministic = true\nlow_watermark = 9\nhigh_watermark = 3").unwrap();
        assert_eq!((m.batch, m.policy, m.band()), (8, PolicyKind::Fifo, 0));
    }

    #[test]
    fn errors_name_the_table_and_field() {
        let e = |t: &str| parse(t).unwrap_err();
        assert!(e("batch = 0").starts_with("vm[1].manager.batch: "));
        assert!(e("policy = \"nope\"").starts_with("vm[1].manager.policy: "));
        assert!(e("watermarks = \"x\"").starts_with("vm[1].manager.watermarks: "));
        assert!(e("low_watermark = 64").starts_with("vm[1].manager.low_watermark: "));
        assert!(e("bogus = 1").contains("bogus"));
    }
}
