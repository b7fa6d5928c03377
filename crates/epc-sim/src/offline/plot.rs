//! The miss-ratio-curve plot: one line per policy, OPT drawn as the floor,
//! rendered as SVG and PNG by the crate's chart module (which embeds its
//! font, so no system font is needed).

use super::{MrcTable, SimError, SimPolicy};
use crate::plot::{Chart, Series};
use std::path::Path;

impl MrcTable {
    /// The chart: x is the cache size in pages, y the miss ratio. The
    /// chart module has eight colours: keep to seven policies plus OPT.
    pub fn chart(&self) -> Chart {
        let series = self
            .policies
            .iter()
            .enumerate()
            .map(|(p, policy)| Series {
                name: if *policy == SimPolicy::Opt {
                    "opt (floor)".to_owned()
                } else {
                    policy.name().to_owned()
                },
                points: (0..self.sizes.len())
                    .map(|s| (self.capacities[s] as f64, self.ratio(p, s)))
                    .collect(),
            })
            .collect();
        Chart {
            title: format!(
                "{}: miss ratio ({} refs, {} distinct pages)",
                self.trace, self.refs, self.distinct
            ),
            x_label: "cache size (pages)".to_owned(),
            y_label: "miss ratio".to_owned(),
            series,
            limits: Vec::new(),
            hlines: Vec::new(),
        }
    }

    /// Writes `base.svg` and `base.png` (`base` without extension).
    pub fn write_plot(&self, base: impl AsRef<Path>) -> Result<(), SimError> {
        self.chart().write(base.as_ref()).map_err(SimError::Plot)
    }
}
