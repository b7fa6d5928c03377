//! Line charts as SVG and PNG, with the text drawn from the font under
//! `assets/` (DejaVu Sans, embedded), so no system font is needed.
//!
//! A [`Chart`] is series of points plus horizontal reference lines (the
//! watermarks, say); [`Chart::write`] renders it twice, `NAME.svg` and
//! `NAME.png`. Other reports (miss-ratio curves) can reuse it.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// A dashed horizontal line across the chart.
#[derive(Clone, Debug)]
pub struct HLine {
    /// Legend text.
    pub name: String,
    /// Where.
    pub y: f64,
}

/// A chart to draw.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Dashed lines, the `i`-th in the colour of the `i`-th series (its
    /// limit over time, say).
    pub limits: Vec<Series>,
    /// Reference lines.
    pub hlines: Vec<HLine>,
}

const SIZE: (u32, u32) = (900, 500);

/// An axis label: whole numbers without decimals, large ones with a
/// k or M suffix.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

impl Chart {
    /// Writes `base.svg` and `base.png` (`base` without extension).
    pub fn write(&self, base: &Path) -> Result<(), String> {
        REGISTER.call_once(|| {
            // The font is a constant valid TTF; if it were not, text would
            // be missing and the drawing below would say so.
            let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
        });
        let svg = base.with_extension("svg");
        let png = base.with_extension("png");
        self.draw(SVGBackend::new(&svg, SIZE).into_drawing_area())
            .map_err(|e| format!("{}: {e}", svg.display()))?;
        self.draw(BitMapBackend::new(&png, SIZE).into_drawing_area())
            .map_err(|e| format!("{}: {e}", png.display()))?;
        Ok(())
    }

    fn ranges(&self) -> (f64, f64, f64, f64) {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(
                self.limits
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.1)),
            )
            .chain(self.hlines.iter().map(|h| h.y));
        let (mut x0, mut x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let mut y1 = ys.fold(0.0f64, f64::max);
        if x0 > x1 {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 - x0 < 1e-9 {
            x1 = x0 + 1.0;
        }
        if y1 <= 0.0 {
            y1 = 1.0;
        }
        (x0, x1, 0.0, y1 * 1.08)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let (x0, x1, y0, y1) = self.ranges();
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(235, 235, 235))
            .y_label_formatter(&|v| short_number(*v))
            .draw()
            .map_err(e)?;
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(e)?
                .label(&s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        for (i, s) in self.limits.iter().enumerate() {
            if s.points.is_empty() {
                continue;
            }
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(DashedLineSeries::new(
                    s.points.iter().copied(),
                    8,
                    5,
                    color.stroke_width(2),
                ))
                .map_err(e)?
                .label(&s.name)
                .legend(move |(x, y)| {
                    PathElement::new(
                        vec![(x, y), (x + 8, y), (x + 12, y), (x + 20, y)],
                        color.stroke_width(1),
                    )
                });
        }
        for (i, h) in self.hlines.iter().enumerate() {
            let color = COLORS[(self.series.len() + i) % COLORS.len()];
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, h.y), (x1, h.y)],
                    8,
                    5,
                    color.stroke_width(2),
                ))
                .map_err(e)?
                .label(&h.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(e)?;
        root.present().map_err(e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(short_number(64.0), "64");
        assert_eq!(short_number(250_000.0), "250k");
        assert_eq!(short_number(2_500_000.0), "2.5M");
        assert_eq!(short_number(0.25), "0.25");
    }

    #[test]
    fn writes_svg_and_png_with_text() {
        let dir = std::env::temp_dir().join(format!("epc-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = Chart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series {
                name: "s".into(),
                points: vec![(0.0, 1.0), (1.0, 3.0)],
            }],
            limits: vec![Series {
                name: "l".into(),
                points: vec![(0.0, 4.0), (0.5, 4.0), (0.5, 2.0), (1.0, 2.0)],
            }],
            hlines: vec![HLine {
                name: "h".into(),
                y: 2.0,
            }],
        };
        chart.write(&dir.join("c")).unwrap();
        let svg = std::fs::read_to_string(dir.join("c.svg")).unwrap();
        assert!(svg.contains("<text"));
        let png = std::fs::read(dir.join("c.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
