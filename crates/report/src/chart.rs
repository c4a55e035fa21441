//! Line and scatter charts drawn as inline SVG.

use crate::escape;
use std::fmt::Write as _;

/// Size of a chart in SVG user units (pixels when shown at 100%).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
/// Room left of, right of, above and below the plot area for ticks, labels and the title.
const MARGIN_LEFT: f64 = 72.0;
const MARGIN_RIGHT: f64 = 24.0;
const MARGIN_TOP: f64 = 40.0;
const MARGIN_BOTTOM: f64 = 56.0;
/// Series colours, in order (colour-blind-safe Okabe–Ito).
const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// One axis of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// The label under or beside the axis (with its unit).
    pub label: String,
    /// Logarithmic (base 10); points at or below zero are left out.
    pub log: bool,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            log: false,
        }
    }

    /// A logarithmic axis.
    pub fn log(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            log: true,
        }
    }

    fn value(&self, v: f64) -> Option<f64> {
        match self.log {
            true if v > 0.0 && v.is_finite() => Some(v.log10()),
            true => None,
            false => v.is_finite().then_some(v),
        }
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// Points joined in the order given.
    Line,
    /// Points alone.
    Scatter,
}

/// A named set of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The name in the legend.
    pub name: String,
    /// How it is drawn.
    pub kind: SeriesKind,
    /// The points `(x, y)`; those an axis cannot show (not finite, or not positive on a log
    /// axis) are left out.
    pub points: Vec<(f64, f64)>,
}

/// A chart: axes, series and optionally the diagonal `y = x` (for predicted against actual).
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The title above the plot.
    pub title: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The series, drawn in order.
    pub series: Vec<Series>,
    /// Draw `y = x` across the plot.
    pub diagonal: bool,
}

impl Chart {
    /// An empty chart.
    pub fn new(title: impl Into<String>, x: Axis, y: Axis) -> Self {
        Self {
            title: title.into(),
            x,
            y,
            series: Vec::new(),
            diagonal: false,
        }
    }

    /// Adds a series.
    pub fn with_series(
        mut self,
        name: impl Into<String>,
        kind: SeriesKind,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> Self {
        self.series.push(Series {
            name: name.into(),
            kind,
            points: points.into_iter().collect(),
        });
        self
    }

    /// Draws `y = x`.
    pub fn with_diagonal(mut self) -> Self {
        self.diagonal = true;
        self
    }

    /// The points of every series in axis coordinates (log10 on a log axis).
    fn plotted(&self) -> Vec<Vec<(f64, f64)>> {
        self.series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter_map(|&(x, y)| Some((self.x.value(x)?, self.y.value(y)?)))
                    .collect()
            })
            .collect()
    }

    /// The chart as an `<svg>` element.
    pub fn to_svg(&self) -> String {
        let plotted = self.plotted();
        let all = plotted.iter().flatten();
        let (mut x_range, mut y_range) = (Range::EMPTY, Range::EMPTY);
        for &(x, y) in all {
            x_range.include(x);
            y_range.include(y);
        }
        if self.diagonal {
            let both = x_range.union(y_range);
            (x_range, y_range) = (both, both);
        }
        let (x_range, y_range) = (x_range.padded(), y_range.padded());
        let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
        let plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
        let sx = |x: f64| MARGIN_LEFT + (x - x_range.lo) / x_range.span() * plot_w;
        let sy = |y: f64| MARGIN_TOP + plot_h - (y - y_range.lo) / y_range.span() * plot_h;

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(svg, "<title>{}</title>", escape(&self.title));
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        let _ = write!(
            svg,
            r##"<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>"##
        );
        for tick in ticks(x_range, self.x.log) {
            let px = sx(tick);
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" y1="{MARGIN_TOP}" x2="{px:.1}" y2="{:.1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                MARGIN_TOP + plot_h,
                MARGIN_TOP + plot_h + 16.0,
                tick_label(tick, self.x.log)
            );
        }
        for tick in ticks(y_range, self.y.log) {
            let py = sy(tick);
            let _ = write!(
                svg,
                r##"<line x1="{MARGIN_LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                MARGIN_LEFT + plot_w,
                MARGIN_LEFT - 6.0,
                py + 4.0,
                tick_label(tick, self.y.log)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            MARGIN_LEFT + plot_w / 2.0,
            HEIGHT - 14.0,
            escape(&self.x.label)
        );
        let _ = write!(
            svg,
            r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            MARGIN_TOP + plot_h / 2.0,
            escape(&self.y.label)
        );
        if plotted.iter().all(Vec::is_empty) {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#888">no data</text>"##,
                MARGIN_LEFT + plot_w / 2.0,
                MARGIN_TOP + plot_h / 2.0
            );
        } else if self.diagonal {
            let (lo, hi) = (x_range.lo, x_range.hi);
            let _ = write!(
                svg,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888" stroke-dasharray="4 4"/>"##,
                sx(lo),
                sy(lo),
                sx(hi),
                sy(hi)
            );
        }
        for (i, (series, points)) in self.series.iter().zip(&plotted).enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let _ = write!(
                svg,
                r#"<g class="series" data-name="{}">"#,
                escape(&series.name)
            );
            if series.kind == SeriesKind::Line && points.len() > 1 {
                let path: Vec<String> = points
                    .iter()
                    .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                    .collect();
                let _ = write!(
                    svg,
                    r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                    path.join(" ")
                );
            }
            let radius = if series.kind == SeriesKind::Line {
                2.5
            } else {
                3.0
            };
            for &(x, y) in points {
                let _ = write!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="{radius}" fill="{colour}" fill-opacity="0.8"/>"#,
                    sx(x),
                    sy(y)
                );
            }
            let legend_y = MARGIN_TOP + 16.0 + 16.0 * i as f64;
            let legend_x = MARGIN_LEFT + 12.0;
            let _ = write!(
                svg,
                r#"<rect x="{legend_x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{legend_y:.1}">{}</text></g>"#,
                legend_y - 9.0,
                legend_x + 14.0,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// A closed interval of axis coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Range {
    lo: f64,
    hi: f64,
}

impl Range {
    const EMPTY: Self = Self {
        lo: f64::INFINITY,
        hi: f64::NEG_INFINITY,
    };

    fn include(&mut self, v: f64) {
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
    }

    fn union(self, other: Self) -> Self {
        Self {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    /// Widened by 5% each side; a single value or no value gets a unit-wide range.
    fn padded(self) -> Self {
        if self.lo > self.hi {
            return Self { lo: 0.0, hi: 1.0 };
        }
        if self.hi - self.lo < f64::EPSILON * self.hi.abs().max(1.0) {
            return Self {
                lo: self.lo - 0.5,
                hi: self.hi + 0.5,
            };
        }
        let pad = (self.hi - self.lo) * 0.05;
        Self {
            lo: self.lo - pad,
            hi: self.hi + pad,
        }
    }

    fn span(self) -> f64 {
        self.hi - self.lo
    }
}

/// Tick positions in axis coordinates: whole decades on a log axis that spans at least one,
/// otherwise steps of 1, 2 or 5 times a power of ten, as close to five of them as they come.
fn ticks(range: Range, log: bool) -> Vec<f64> {
    if log && range.span() >= 1.0 {
        let (first, last) = (range.lo.ceil() as i64, range.hi.floor() as i64);
        return (first..=last).map(|d| d as f64).collect();
    }
    let rough = range.span() / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .min_by(|a, b| {
            let off = |s: f64| (range.span() / s - 5.0).abs();
            off(*a).total_cmp(&off(*b))
        })
        .unwrap_or(magnitude);
    let first = (range.lo / step).ceil() as i64;
    let last = (range.hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A tick's label: the value itself (10^tick on a log axis), in few digits.
fn tick_label(tick: f64, log: bool) -> String {
    let value = if log { 10f64.powf(tick) } else { tick };
    let magnitude = value.abs();
    if magnitude == 0.0 || magnitude < 1e-12 {
        "0".to_owned()
    } else if !(1e-3..1e6).contains(&magnitude) {
        format!("{value:.0e}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        let range = Range { lo: 0.0, hi: 1.0 }.padded();
        assert!(
            ticks(range, false)
                .iter()
                .all(|&t| t >= range.lo && t <= range.hi)
        );
        let labels: Vec<String> = ticks(range, false)
            .into_iter()
            .map(|t| tick_label(t, false))
            .collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        let decades = ticks(Range { lo: 0.1, hi: 3.2 }, true);
        assert_eq!(decades, [1.0, 2.0, 3.0]);
        assert_eq!(tick_label(3.0, true), "1000");
        assert_eq!(tick_label(7.0, true), "1e7");
    }

    #[test]
    fn a_chart_draws_every_point_it_can_and_escapes_its_text() {
        let chart = Chart::new(
            "tokens/s <by> adapters",
            Axis::log("adapters in the batch"),
            Axis::linear("decode tokens/s"),
        )
        .with_series(
            "base & LoRA",
            SeriesKind::Line,
            [(1.0, 10.0), (8.0, 50.0), (0.0, 3.0)],
        )
        .with_series(
            "scatter",
            SeriesKind::Scatter,
            [(2.0, f64::NAN), (4.0, 20.0)],
        );
        let svg = chart.to_svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // (0, 3) cannot be shown on the log axis, (2, NaN) not at all.
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("tokens/s &lt;by&gt; adapters"));
        assert!(svg.contains("base &amp; LoRA"));
        assert!(!svg.contains("<by>"));
        assert_eq!(svg, chart.to_svg(), "the same chart gives the same bytes");
    }

    #[test]
    fn an_empty_chart_says_so_and_the_diagonal_spans_both_axes() {
        let empty = Chart::new("nothing", Axis::linear("x"), Axis::linear("y")).to_svg();
        assert!(empty.contains("no data"));
        let scatter = Chart::new(
            "predicted vs actual",
            Axis::linear("predicted"),
            Axis::linear("actual"),
        )
        .with_series("test points", SeriesKind::Scatter, [(0.0, 1.0), (2.0, 3.0)])
        .with_diagonal()
        .to_svg();
        assert!(scatter.contains("stroke-dasharray"));
        assert!(!scatter.contains("no data"));
    }
}
