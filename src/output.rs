//! Printing rows as a table (for people), JSON, JSON Lines or CSV (for scripts).
//!
//! JSON shapes come from each row type's `Serialize`; table and CSV columns are chosen by the
//! caller, so the human view can stay narrow while scripts get every field.

use std::io::{self, Write};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// A column of the table / CSV view.
pub struct Column<T> {
    pub name: &'static str,
    pub value: fn(&T) -> String,
    /// Widest the table shows this column (longer values are cut with "…"); CSV is never cut.
    pub max_width: usize,
}

impl<T> Column<T> {
    pub const fn new(name: &'static str, max_width: usize, value: fn(&T) -> String) -> Column<T> {
        Column { name, value, max_width }
    }
}

pub fn print<T: Serialize>(out: &mut dyn Write, format: Format, rows: &[T], columns: &[Column<T>]) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, rows)?;
            writeln!(out)
        }
        Format::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut *out, row)?;
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Csv => {
            let header: Vec<String> = columns.iter().map(|c| csv_field(c.name)).collect();
            writeln!(out, "{}", header.join(","))?;
            for row in rows {
                let fields: Vec<String> = columns.iter().map(|c| csv_field(&(c.value)(row))).collect();
                writeln!(out, "{}", fields.join(","))?;
            }
            Ok(())
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|row| columns.iter().map(|c| cut(&one_line(&(c.value)(row)), c.max_width)).collect())
                .collect();
            let widths: Vec<usize> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| cells.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(c.name.len()))
                .collect();
            let line = |fields: Vec<&str>| -> String {
                let padded: Vec<String> = fields.iter().zip(&widths).map(|(f, w)| format!("{f:<w$}", w = *w)).collect();
                padded.join("  ").trim_end().to_string()
            };
            writeln!(out, "{}", line(columns.iter().map(|c| c.name).collect()))?;
            for row in &cells {
                writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
            }
            Ok(())
        }
    }
}

/// RFC 4180 quoting; a leading `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does
/// not run a feed title as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_string() };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r', '\t'], " ")
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        a: String,
        n: i64,
    }

    fn columns() -> Vec<Column<Row>> {
        vec![Column::new("a", 6, |r: &Row| r.a.clone()), Column::new("n", 5, |r: &Row| r.n.to_string())]
    }

    fn render(format: Format, rows: &[Row]) -> String {
        let mut buf = Vec::new();
        print(&mut buf, format, rows, &columns()).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn formats() {
        let rows = vec![Row { a: "x, \"y\"".into(), n: 1 }, Row { a: "=cmd()".into(), n: 2 }];
        assert_eq!(render(Format::Csv, &rows), "a,n\n\"x, \"\"y\"\"\",1\n'=cmd(),2\n");
        assert_eq!(render(Format::Jsonl, &rows).lines().count(), 2);
        let json: serde_json::Value = serde_json::from_str(&render(Format::Json, &rows)).unwrap();
        assert_eq!(json[1]["n"], 2);
        let table = render(Format::Table, &[Row { a: "a long value".into(), n: 3 }]);
        assert_eq!(table, "a       n\na lon…  3\n");
    }
}
