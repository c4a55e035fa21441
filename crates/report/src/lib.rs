//! Self-contained HTML reports with SVG charts, for `openledger attribution eval --report` and
//! the benchmarks' `--report`: where people would rather look than read (an LDS scatter of
//! predicted against actual, tokens/s per adapter count, scan rate against bandwidth).
//!
//! A [`Report`] is a page of sections, each with text, [`Table`]s and [`Chart`]s; it renders to
//! one HTML file with the SVG inline and no script or external resource, so it opens from disk
//! anywhere. Every string is escaped (titles and labels can come from user data: corpus names,
//! model folders), and the output is deterministic: the same report gives the same bytes.
//! [`Report::json_section`] lays out any benchmark's JSON results as tables, so every benchmark
//! writes a report, with charts where they say more.

mod chart;
mod escape;
mod json;
mod page;

pub use chart::{Axis, Chart, Series, SeriesKind};
pub use escape::escape;
pub use page::{Report, Table};
