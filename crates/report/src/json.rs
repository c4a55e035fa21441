//! A benchmark's JSON results as report tables: what every benchmark can write with
//! `--report`, the same figures as its `--json`, laid out for reading.
//!
//! An object's scalar fields make one table of name and value; an array of objects makes one
//! table with a column per field (nested objects flattened to `outer.inner`); an object of
//! objects (results per target, per method) makes a section per entry; results that are an
//! array of objects make one table. Arrays of scalars are joined into one cell.

use crate::{Report, Table};
use serde_json::{Map, Value};

/// A cell's text for a scalar (or an array of scalars).
fn cell(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.3}"),
            _ => n.to_string(),
        }),
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Object(_) | Value::Array(_) => None,
                scalar => cell(scalar),
            })
            .collect::<Option<Vec<_>>>()
            .map(|cells| cells.join(", ")),
        Value::Object(_) => None,
    }
}

/// `object`'s scalar fields, nested objects flattened as `prefix.field`.
fn flatten(prefix: &str, object: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (key, value) in object {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) => flatten(&name, inner, out),
            other => {
                if let Some(text) = cell(other) {
                    out.push((name, text));
                }
            }
        }
    }
}

/// A table with a row per object of `items` and a column per field any of them has.
fn rows_table(items: &[Value]) -> Table {
    let rows: Vec<Vec<(String, String)>> = items
        .iter()
        .map(|item| {
            let mut fields = Vec::new();
            if let Value::Object(object) = item {
                flatten("", object, &mut fields);
            }
            fields
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for (name, _) in rows.iter().flatten() {
        if !columns.contains(name) {
            columns.push(name.clone());
        }
    }
    let mut table = Table::new(columns.clone());
    for fields in rows {
        table.row(columns.iter().map(|column| {
            fields
                .iter()
                .find(|(name, _)| name == column)
                .map_or_else(String::new, |(_, text)| text.clone())
        }));
    }
    table
}

impl Report {
    /// Adds `results` (a benchmark's JSON) under `heading` as tables.
    pub fn json_section(&mut self, heading: &str, results: &Value) -> &mut Self {
        self.heading(heading);
        let object = match results {
            Value::Object(object) => object,
            Value::Array(items) if items.iter().any(Value::is_object) => {
                return self.table(rows_table(items));
            }
            scalar => {
                if let Some(text) = cell(scalar) {
                    self.paragraph(text);
                }
                return self;
            }
        };
        let mut scalars = Table::new(["field", "value"]);
        let mut nested = Vec::new();
        for (key, value) in object {
            match value {
                Value::Array(items) if items.iter().any(Value::is_object) => {
                    nested.push((key.clone(), Some(rows_table(items)), None));
                }
                Value::Object(inner)
                    if inner.values().all(Value::is_object) && !inner.is_empty() =>
                {
                    nested.push((key.clone(), None, Some(value.clone())));
                }
                Value::Object(inner) => {
                    let mut fields = Vec::new();
                    flatten(key, inner, &mut fields);
                    for (name, text) in fields {
                        scalars.row([name, text]);
                    }
                }
                other => {
                    if let Some(text) = cell(other) {
                        scalars.row([key.clone(), text]);
                    }
                }
            }
        }
        if !scalars.rows.is_empty() {
            self.table(scalars);
        }
        for (key, table, entries) in nested {
            if let Some(table) = table {
                self.heading(format!("{heading}: {key}"));
                self.table(table);
            }
            if let Some(Value::Object(entries)) = entries {
                for (name, entry) in &entries {
                    self.json_section(&format!("{heading}: {key} {name}"), entry);
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_become_tables_with_every_figure() {
        let results = json!({
            "senders": 200,
            "phases": ["ETH transfers", "ERC-20 transfers"],
            "targets": {
                "openledger": {"phases": [{"sent": 10, "tx_per_s": 812.5, "latency": {"p50": 3}}]},
                "anvil": {"phases": [{"sent": 10, "tx_per_s": 401.25}]}
            },
            "ceiling": [{"tx_per_s": 9000.0, "blocks": 3}, {"blocks": 4, "note": "<b>x</b>"}]
        });
        let mut report = Report::new("bench");
        report.json_section("throughput", &results);
        let html = report.to_html();
        for expected in [
            "<td>senders</td><td>200</td>",
            "<td>ETH transfers, ERC-20 transfers</td>",
            "throughput: targets openledger",
            "<th>latency.p50</th>",
            "<td>812.500</td>",
            "<td>401.250</td>",
            "throughput: ceiling",
            "&lt;b&gt;x&lt;/b&gt;",
        ] {
            assert!(html.contains(expected), "{expected} missing from {html}");
        }
        let mut rows = Report::new("rows");
        rows.json_section(
            "runs",
            &json!([{"model": "ci", "tok_s": 5.5}, {"model": "big"}]),
        );
        assert!(
            rows.to_html()
                .contains("<tr><td>ci</td><td>5.500</td></tr><tr><td>big</td><td></td></tr>")
        );
        // Columns in key order (blocks, tx_per_s, note): the second ceiling row has no tx/s,
        // an empty cell, not a shifted row.
        assert!(html.contains("<tr><td>4</td><td></td><td>&lt;b&gt;x&lt;/b&gt;</td></tr>"));
    }
}
