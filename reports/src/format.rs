//! Choosing a renderer by name (the CLI's `--format`).

use crate::error::ReportError;
use crate::render::{csv, html, json, markdown, table};
use crate::summary::CampaignReport;
use std::fmt;
use std::str::FromStr;

/// An output format of a [`CampaignReport`]. (The raw records' JSON Lines are written by
/// [`crate::render_jsonl`], from records rather than from a report.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// [`crate::render_table`] with [`crate::TableStyle::Compact`].
    Table,
    /// [`crate::render_table`] with [`crate::TableStyle::Wide`].
    Wide,
    /// [`crate::render_json`].
    Json,
    /// [`crate::render_csv`].
    Csv,
    /// [`crate::render_markdown`].
    Markdown,
    /// [`crate::render_html`].
    Html,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 6] = [
        Format::Table,
        Format::Wide,
        Format::Json,
        Format::Csv,
        Format::Markdown,
        Format::Html,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Wide => "wide",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table | Format::Wide => "txt",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    /// Renders `report` in this format.
    pub fn render(self, report: &CampaignReport) -> String {
        match self {
            Format::Table => table::render_table(report, table::TableStyle::Compact),
            Format::Wide => table::render_table(report, table::TableStyle::Wide),
            Format::Json => json::render_json(report),
            Format::Csv => csv::render_csv(report),
            Format::Markdown => markdown::render_markdown(report),
            Format::Html => html::render_html(report),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ReportError;

    /// Parses [`Format::name`] (also `md` for Markdown, `txt` for the table).
    fn from_str(s: &str) -> Result<Format, ReportError> {
        let alias = match s {
            "md" => Some(Format::Markdown),
            "txt" => Some(Format::Table),
            _ => None,
        };
        alias
            .or_else(|| Format::ALL.into_iter().find(|f| f.name() == s))
            .ok_or_else(|| ReportError::UnknownFormat {
                name: s.to_string(),
                known: Format::ALL.map(Format::name).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        let e = "pdf".parse::<Format>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown report format `pdf` (known: table, wide, json, csv, markdown, html)"
        );
    }
}
