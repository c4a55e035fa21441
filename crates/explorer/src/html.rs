//! Building pages: the layout, escaped text, links and amounts.
//!
//! Everything a user supplied (prompts, outputs, URIs, metadata) reaches a page only through
//! [`Text`], which escapes it; URIs are shown as text, never as links, so a `javascript:` URI
//! is inert. The pages also carry a content security policy that allows no inline script, so
//! markup that escaped escaping still could not run.

use alloy_primitives::{Address, B256, U256};
use ol_report::escape;
use std::fmt::{self, Display, Write as _};

/// Rows of a paginated table.
pub(crate) const PAGE_SIZE: u64 = 25;

/// Text that renders as text: the five characters HTML gives meaning to become entities.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Text<'a>(pub(crate) &'a str);

impl Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

/// A page under construction.
#[derive(Debug, Default)]
pub(crate) struct Page {
    body: String,
}

impl Page {
    /// Appends trusted markup (built here, user strings only through [`Text`]).
    pub(crate) fn push(&mut self, markup: impl Display) -> &mut Self {
        let _ = write!(self.body, "{markup}");
        self
    }

    /// A heading.
    pub(crate) fn heading(&mut self, text: &str) -> &mut Self {
        self.push(format_args!("<h2>{}</h2>\n", Text(text)))
    }

    /// A table of `rows` (cells are markup) under `headers`, or `empty` when there is none.
    pub(crate) fn table(
        &mut self,
        class: &str,
        headers: &[&str],
        rows: &[Row],
        empty: &str,
    ) -> &mut Self {
        if rows.is_empty() {
            return self.push(format_args!("<p class=\"empty\">{}</p>\n", Text(empty)));
        }
        self.push(format_args!("<table class=\"{class}\"><thead><tr>"));
        for header in headers {
            self.push(format_args!("<th>{}</th>", Text(header)));
        }
        self.push("</tr></thead><tbody>\n");
        for row in rows {
            self.push("<tr");
            for (name, value) in &row.data {
                self.push(format_args!(" data-{name}=\"{}\"", Text(value)));
            }
            self.push(">");
            for cell in &row.cells {
                self.push(format_args!("<td>{cell}</td>"));
            }
            self.push("</tr>\n");
        }
        self.push("</tbody></table>\n")
    }

    /// A definition list of `(label, markup)` pairs.
    pub(crate) fn fields(&mut self, fields: &[(&str, String)]) -> &mut Self {
        self.push("<dl class=\"fields\">");
        for (label, value) in fields {
            self.push(format_args!("<dt>{}</dt><dd>{value}</dd>", Text(label)));
        }
        self.push("</dl>\n")
    }

    /// Links to the previous and next pages of `path` (`?page=N`, 1-based).
    pub(crate) fn pager(&mut self, path: &str, page: u64, has_next: bool) -> &mut Self {
        self.push("<nav class=\"pager\">");
        if page > 1 {
            self.push(format_args!(
                "<a rel=\"prev\" href=\"{path}?page={}\">&larr; newer</a>",
                page - 1
            ));
        }
        self.push(format_args!("<span>page {page}</span>"));
        if has_next {
            self.push(format_args!(
                "<a rel=\"next\" href=\"{path}?page={}\">older &rarr;</a>",
                page + 1
            ));
        }
        self.push("</nav>\n")
    }

    /// The whole document.
    pub(crate) fn finish(self, title: &str) -> String {
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · OpenLedger explorer</title>\
             <link rel=\"stylesheet\" href=\"/assets/explorer.css\">\
             <script src=\"/assets/explorer.js\" defer></script></head>\n<body>\
             <header><a class=\"brand\" href=\"/\">OpenLedger explorer</a><nav>\
             <a href=\"/blocks\">Blocks</a><a href=\"/datanets\">Datanets</a>\
             <a href=\"/models\">Models</a><a href=\"/requests\">Inferences</a></nav>\
             <form action=\"/search\" method=\"get\"><input name=\"q\" \
             placeholder=\"block, transaction, request id or address\" aria-label=\"search\">\
             </form></header>\n<main>\n<h1>{title}</h1>\n{}</main></body></html>\n",
            self.body,
            title = Text(title),
        )
    }
}

/// A table row: its cells (markup) and `data-` attributes for scripts and tests.
#[derive(Debug, Default)]
pub(crate) struct Row {
    pub(crate) cells: Vec<String>,
    pub(crate) data: Vec<(&'static str, String)>,
}

impl Row {
    /// A row of `cells`.
    pub(crate) fn new(cells: impl IntoIterator<Item = String>) -> Self {
        Self {
            cells: cells.into_iter().collect(),
            data: Vec::new(),
        }
    }

    /// With the attribute `data-{name}="{value}"`.
    pub(crate) fn with(mut self, name: &'static str, value: impl Display) -> Self {
        self.data.push((name, value.to_string()));
        self
    }
}

/// `0x1234…abcd` of a 32-byte hash, the whole in its title.
pub(crate) fn short(hash: &B256) -> String {
    let full = hash.to_string();
    format!(
        "<code title=\"{full}\">{}…{}</code>",
        &full[..10],
        &full[full.len() - 8..]
    )
}

/// A link to the contributor page of `address`.
pub(crate) fn address(address: &Address) -> String {
    format!("<a class=\"address\" href=\"/contributor/{address}\"><code>{address}</code></a>")
}

/// A link to block `number`.
pub(crate) fn block(number: u64) -> String {
    format!("<a href=\"/block/{number}\">{number}</a>")
}

/// A link to transaction `hash`.
pub(crate) fn transaction(hash: &B256) -> String {
    format!("<a href=\"/tx/{hash}\">{}</a>", short(hash))
}

/// A link to the inference request `id`.
pub(crate) fn request(id: &B256) -> String {
    format!("<a href=\"/request/{id}\">{}</a>", short(id))
}

/// An amount in ether with its exact wei in `data-wei` (and the title).
pub(crate) fn wei(amount: U256) -> String {
    format!(
        "<span class=\"amount\" data-wei=\"{amount}\" title=\"{amount} wei\">{} ETH</span>",
        ether(amount)
    )
}

/// `amount` wei in ether, without trailing zeros.
fn ether(amount: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let (whole, fraction) = amount.div_rem(unit);
    if fraction.is_zero() {
        return whole.to_string();
    }
    let digits = format!("{fraction:0>18}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A Unix time as `YYYY-MM-DD hh:mm:ss UTC` (the proleptic Gregorian calendar), the seconds in
/// the title.
pub(crate) fn utc(seconds: u64) -> String {
    let days = seconds / 86_400;
    let of_day = seconds % 86_400;
    // Howard Hinnant's days-to-civil, shifted so that eras start on 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "<time title=\"{seconds}\">{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC</time>",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

/// `count` and `noun`, plural unless the count is one (`1 credit`, `3 credits`).
pub(crate) fn counted(count: impl Into<u128>, noun: &str) -> String {
    let count = count.into();
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Parts per million as a percentage.
pub(crate) fn ppm(weight: u64) -> String {
    format!(
        "<span class=\"ppm\" data-ppm=\"{weight}\">{}.{:04}%</span>",
        weight / 10_000,
        weight % 10_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_every_wei() {
        assert_eq!(ether(U256::ZERO), "0");
        assert_eq!(ether(U256::from(1u64)), "0.000000000000000001");
        assert_eq!(ether(U256::from(1_500_000_000_000_000_000u64)), "1.5");
        assert!(wei(U256::from(7u64)).contains("data-wei=\"7\""));
        assert_eq!(
            ppm(1_000_000),
            "<span class=\"ppm\" data-ppm=\"1000000\">100.0000%</span>"
        );
        assert!(ppm(123_456).contains("12.3456%"));
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(counted(1u64, "credit"), "1 credit");
        assert_eq!(counted(0u64, "credit"), "0 credits");
        assert_eq!(counted(25u64, "time"), "25 times");
    }

    #[test]
    fn unix_times_in_utc() {
        assert!(utc(0).contains(">1970-01-01 00:00:00 UTC<"));
        assert!(utc(951_782_400).contains(">2000-02-29 00:00:00 UTC<"));
        assert!(utc(1_796_665_269).contains(">2026-12-07 17:41:09 UTC<"));
        assert!(utc(u64::MAX).contains("UTC"));
    }

    #[test]
    fn page_text_and_attributes_are_escaped() {
        let mut page = Page::default();
        page.heading("<b>x</b>").table(
            "t",
            &["<h>"],
            &[Row::new(["cell".to_string()]).with("uri", "\"><script>")],
            "none",
        );
        let html = page.finish("<title>");
        assert!(!html.contains("<b>x</b>") && html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(html.contains("data-uri=\"&quot;&gt;&lt;script&gt;\""));
        assert!(html.contains("&lt;title&gt;"));
        assert!(!html.contains("<h>"));
    }
}
