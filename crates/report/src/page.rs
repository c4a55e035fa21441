//! A report page: headings, paragraphs, tables and charts in one HTML file.

use crate::{Chart, escape};
use std::{fmt::Write as _, path::Path};

/// A table of text cells.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// The column headers.
    pub headers: Vec<String>,
    /// The rows, each as many cells as there are headers.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers and no rows.
    pub fn new(headers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: impl IntoIterator<Item = impl Into<String>>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }
}

/// What a report shows, in order.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Heading(String),
    Paragraph(String),
    Table(Table),
    Chart(Chart),
}

/// An HTML report: a title, then headings, paragraphs, tables and charts in the order added.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    title: String,
    blocks: Vec<Block>,
}

impl Report {
    /// An empty report.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Adds a section heading.
    pub fn heading(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading(text.into()));
        self
    }

    /// Adds a paragraph of text.
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// Adds a table.
    pub fn table(&mut self, table: Table) -> &mut Self {
        self.blocks.push(Block::Table(table));
        self
    }

    /// Adds a chart.
    pub fn chart(&mut self, chart: Chart) -> &mut Self {
        self.blocks.push(Block::Chart(chart));
        self
    }

    /// The whole page.
    pub fn to_html(&self) -> String {
        let mut html = String::new();
        let title = escape(&self.title);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <style>body{{font-family:sans-serif;max-width:720px;margin:2em auto;color:#222}}\
             table{{border-collapse:collapse;margin:1em 0}}th,td{{border:1px solid #ccc;\
             padding:3px 8px;text-align:right}}th{{background:#f4f4f4}}\
             td:first-child,th:first-child{{text-align:left}}svg{{margin:1em 0}}</style>\
             </head><body><h1>{title}</h1>\n"
        );
        for block in &self.blocks {
            match block {
                Block::Heading(text) => {
                    let _ = writeln!(html, "<h2>{}</h2>", escape(text));
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(html, "<p>{}</p>", escape(text));
                }
                Block::Table(table) => {
                    html.push_str("<table><thead><tr>");
                    for header in &table.headers {
                        let _ = write!(html, "<th>{}</th>", escape(header));
                    }
                    html.push_str("</tr></thead><tbody>");
                    for row in &table.rows {
                        html.push_str("<tr>");
                        for cell in row {
                            let _ = write!(html, "<td>{}</td>", escape(cell));
                        }
                        html.push_str("</tr>");
                    }
                    html.push_str("</tbody></table>\n");
                }
                Block::Chart(chart) => {
                    html.push_str(&chart.to_svg());
                    html.push('\n');
                }
            }
        }
        html.push_str("</body></html>\n");
        html
    }

    /// Writes the page to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_html())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Axis, SeriesKind};

    #[test]
    fn a_report_renders_its_blocks_in_order_and_escapes_every_string() {
        let mut table = Table::new(["corpus", "precision"]);
        table.row(["<b>docs</b>", "0.93"]);
        let mut report = Report::new("eval of \"my corpus\"");
        report
            .heading("Spliced outputs")
            .paragraph("60 outputs & 3 contributors")
            .table(table)
            .chart(
                Chart::new("weights", Axis::linear("x"), Axis::linear("y")).with_series(
                    "s",
                    SeriesKind::Scatter,
                    [(1.0, 2.0)],
                ),
            );
        let html = report.to_html();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>eval of &quot;my corpus&quot;</title>"));
        assert!(html.contains("<td>&lt;b&gt;docs&lt;/b&gt;</td>"));
        assert!(html.contains("60 outputs &amp; 3 contributors"));
        let order: Vec<usize> = ["<h2>", "<p>", "<table>", "<svg"]
            .iter()
            .map(|tag| html.find(tag).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(!html.contains("<script"));
        let dir = std::env::temp_dir().join(format!("ol-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.html");
        report.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), html);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
