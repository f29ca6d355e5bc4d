//! The stance engine's enums as SQLite values: stored as their words (`open`, `certain`, ...,
//! the words the schema's CHECK constraints allow) and read back as the enums, so rows leave
//! the store typed, not as strings.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::stance::{Certainty, Stance};

impl ToSql for Stance {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for Stance {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Stance::parse(text).ok_or_else(|| FromSqlError::Other(format!("`{text}` is not a stance").into()))
    }
}

impl ToSql for Certainty {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for Certainty {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Certainty::parse(text).ok_or_else(|| FromSqlError::Other(format!("`{text}` is not a certainty").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_go_in_and_enums_come_out() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for stance in [Stance::Open, Stance::Closed, Stance::Mixed, Stance::Neutral] {
            let (word, back): (String, Stance) =
                conn.query_row("SELECT ?1, ?1", [stance], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            assert_eq!((word.as_str(), back), (stance.as_str(), stance));
        }
        for certainty in [Certainty::Certain, Certainty::Probable, Certainty::Possible, Certainty::Question] {
            let (word, back): (String, Certainty) =
                conn.query_row("SELECT ?1, ?1", [certainty], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            assert_eq!((word.as_str(), back), (certainty.as_str(), certainty));
        }
        let bad: rusqlite::Result<Stance> = conn.query_row("SELECT 'ajar'", [], |r| r.get(0));
        assert!(bad.is_err());
    }
}
