//! Cache sizes: a page count, or a percentage of a trace's distinct pages.

use super::SimError;
use std::fmt;
use std::str::FromStr;

/// A cache size as the user gives it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Capacity {
    /// Exactly this many pages (at least 1).
    Pages(usize),
    /// This percentage of the trace's distinct pages, rounded down, at
    /// least 1 page.
    Percent(f64),
}

impl Capacity {
    /// The size in pages for a trace with `distinct` distinct pages.
    pub fn pages(self, distinct: usize) -> usize {
        match self {
            Capacity::Pages(n) => n.max(1),
            Capacity::Percent(p) => {
                // Integer percentages are exact (no float rounding surprises:
                // 10% of 1223 must be 122).
                let n = if p.fract() == 0.0 {
                    (distinct as u128 * p as u128 / 100) as usize
                } else {
                    (distinct as f64 * p / 100.0).floor() as usize
                };
                n.max(1)
            }
        }
    }

    /// Parses `"128"` (pages) or `"10%"` (of distinct pages; decimals
    /// allowed, in (0, 100]).
    pub fn parse(s: &str) -> Result<Capacity, SimError> {
        let t = s.trim();
        let bad = |why: &str| SimError::BadCapacity(format!("{s:?}: {why}"));
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| bad("expected a percentage such as 10%"))?;
            if !(v > 0.0 && v <= 100.0) {
                return Err(bad("a percentage must be in (0, 100]"));
            }
            Ok(Capacity::Percent(v))
        } else {
            let n: usize = t.parse().map_err(|_| {
                bad("expected a page count such as 128, or a percentage such as 10%")
            })?;
            if n == 0 {
                return Err(bad("the capacity must be at least 1 page"));
            }
            Ok(Capacity::Pages(n))
        }
    }
}

impl FromStr for Capacity {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        Capacity::parse(s)
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capacity::Pages(n) => write!(f, "{n}"),
            Capacity::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_round_down() {
        assert_eq!(Capacity::parse("10%").unwrap().pages(1223), 122);
        assert_eq!(Capacity::parse("5%").unwrap().pages(9939), 496);
        assert_eq!(Capacity::parse("40%").unwrap().pages(2529), 1011);
        assert_eq!(Capacity::parse("1%").unwrap().pages(50), 1);
        assert_eq!(Capacity::parse("12.5%").unwrap().pages(1000), 125);
        assert_eq!(Capacity::parse(" 64 ").unwrap().pages(10), 64);
        for bad in ["0", "0%", "-5", "abc", "150%", "%"] {
            assert!(Capacity::parse(bad).is_err(), "{bad}");
        }
    }
}
