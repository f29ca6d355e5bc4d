//! Dates as people and archives write them: `YYYY-MM-DD` or RFC 3339. Shared by the command
//! line (`--since D`) and the readers of JSON Lines items (`published`).

use chrono::{DateTime, NaiveDate, Utc};

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339; the error says which forms are accepted.
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not a date: use YYYY-MM-DD or RFC 3339 (2026-01-31T12:00:00Z)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_midnight_utc_and_offsets_are_converted() {
        assert_eq!(parse_date("2026-01-31").unwrap().to_rfc3339(), "2026-01-31T00:00:00+00:00");
        assert_eq!(parse_date("2026-01-31T12:00:00+02:00").unwrap().to_rfc3339(), "2026-01-31T10:00:00+00:00");
        let e = parse_date("last tuesday").unwrap_err();
        assert!(e.contains("last tuesday") && e.contains("YYYY-MM-DD"), "{e}");
    }
}
