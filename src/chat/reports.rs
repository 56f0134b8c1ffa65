//! Reports (docs/protocol.md §11): per UTC hour or day of a range, what
//! happened in it: sessions opened, assigned (with their wait) and closed,
//! messages, first responses, ratings. Each figure counts in the bucket
//! where its own time falls (a session opened at 09:59 and assigned at
//! 10:01 is opened at 09:00 and assigned, with its wait, at 10:00). Each
//! figure is one query over an index on `(tenant, <its time>)` limited to
//! the range and grouped by bucket, so the cost follows what happened in
//! the range, not the history.

use std::collections::HashMap;

use chrono::DateTime;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::Serialize;

use super::User;
use super::clock::rfc3339;
use crate::error::{AppError, AppResult};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
/// The most buckets a report spans: 31 days of hours, 366 days.
const MAX_HOURS: i64 = 31 * 24;
const MAX_DAYS: i64 = 366;

/// A report's range: whole buckets, `to` exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub bucket_ms: i64,
    pub from: i64,
    pub to: i64,
}

impl Range {
    /// From the query's `bucket`, `from`, `to` (RFC 3339), at `now`.
    pub fn parse(
        bucket: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: i64,
    ) -> AppResult<Self> {
        let (bucket_ms, default_span, max) = match bucket.unwrap_or("hour") {
            "hour" => (HOUR_MS, 24, MAX_HOURS),
            "day" => (DAY_MS, 30, MAX_DAYS),
            _ => return Err(AppError::invalid("bucket must be hour or day")),
        };
        let time = |raw: &str, what: &str| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.timestamp_millis())
                .map_err(|_| AppError::invalid(format!("{what} must be an RFC 3339 time")))
        };
        let down = |ms: i64| ms.div_euclid(bucket_ms) * bucket_ms;
        let up = |ms: i64| down(ms + bucket_ms - 1);
        let from = from.map(|f| time(f, "from")).transpose()?.map(down);
        let to = to.map(|t| time(t, "to")).transpose()?.map(up);
        let span = default_span * bucket_ms;
        let (from, to) = match (from, to) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, from + span),
            (None, Some(to)) => (to - span, to),
            // The current bucket and the ones before it.
            (None, None) => {
                let to = down(now) + bucket_ms;
                (to - span, to)
            }
        };
        if from >= to {
            return Err(AppError::invalid("from must be before to"));
        }
        if (to - from) / bucket_ms > max {
            return Err(AppError::invalid(format!(
                "a report spans at most {max} buckets of that size"
            )));
        }
        Ok(Self {
            bucket_ms,
            from,
            to,
        })
    }

    fn buckets(&self) -> usize {
        ((self.to - self.from) / self.bucket_ms) as usize
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportBucket)]
pub struct Bucket {
    #[schema(format = DateTime)]
    pub start: String,
    pub opened: i64,
    pub assigned: i64,
    pub closed: i64,
    pub messages: i64,
    #[schema(required)]
    pub avg_wait_seconds: Option<f64>,
    #[schema(required)]
    pub avg_first_response_seconds: Option<f64>,
    pub ratings: i64,
    #[schema(required)]
    pub avg_rating: Option<f64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    #[schema(value_type = String, pattern = "^(hour|day)$")]
    pub bucket: &'static str,
    #[schema(format = DateTime)]
    pub from: String,
    /// Exclusive.
    #[schema(format = DateTime)]
    pub to: String,
    /// One per UTC hour or day of the range, oldest first.
    pub buckets: Vec<Bucket>,
}

/// One figure: the table and time column it counts, and what it averages.
struct Figure {
    table: &'static str,
    at: &'static str,
    /// An expression averaged over the rows, if any.
    average: Option<&'static str>,
}

const OPENED: Figure = Figure {
    table: "sessions",
    at: "created_at",
    average: None,
};
const ASSIGNED: Figure = Figure {
    table: "sessions",
    at: "assigned_at",
    average: Some("assigned_at - created_at"),
};
const CLOSED: Figure = Figure {
    table: "sessions",
    at: "closed_at",
    average: None,
};
const MESSAGES: Figure = Figure {
    table: "messages",
    at: "created_at",
    average: None,
};
const FIRST_RESPONSES: Figure = Figure {
    table: "sessions",
    at: "first_response_at",
    average: Some("first_response_at - first_customer_message_at"),
};
const RATINGS: Figure = Figure {
    table: "sessions",
    at: "rated_at",
    average: Some("rating_score"),
};

/// Every figure's statement, named (public for the query-plan test):
/// `$1` tenant, `$2` from, `$3` to, `$4` the bucket's size.
pub fn queries(backend: DbBackend, tenant: &str, range: &Range) -> Vec<(&'static str, Statement)> {
    [
        ("opened", &OPENED),
        ("assigned", &ASSIGNED),
        ("closed", &CLOSED),
        ("messages", &MESSAGES),
        ("first responses", &FIRST_RESPONSES),
        ("ratings", &RATINGS),
    ]
    .into_iter()
    .map(|(name, figure)| (name, statement(backend, figure, tenant, range)))
    .collect()
}

fn statement(backend: DbBackend, figure: &Figure, tenant: &str, range: &Range) -> Statement {
    let average = figure.average.map_or_else(
        || "NULL".to_string(),
        |expr| format!("CAST(AVG({expr}) AS DOUBLE PRECISION)"),
    );
    let sql = format!(
        "SELECT ({at} - $2) / $4 AS bucket, COUNT(*) AS n, {average} AS average \
         FROM {table} WHERE tenant = $1 AND {at} >= $2 AND {at} < $3 GROUP BY ({at} - $2) / $4",
        at = figure.at,
        table = figure.table,
    );
    Statement::from_sql_and_values(
        backend,
        sql,
        [
            tenant.into(),
            range.from.into(),
            range.to.into(),
            range.bucket_ms.into(),
        ],
    )
}

#[derive(Debug, FromQueryResult)]
struct Counted {
    bucket: i64,
    n: i64,
    average: Option<f64>,
}

/// The report of `user`'s tenant (staff only).
pub async fn report(db: &impl ConnectionTrait, user: &User, range: Range) -> AppResult<Report> {
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "reports are for agents and admins".into(),
        ));
    }
    let mut buckets: Vec<Bucket> = (0..range.buckets())
        .map(|i| Bucket {
            start: rfc3339(range.from + i as i64 * range.bucket_ms),
            ..Bucket::default()
        })
        .collect();
    let round = |v: f64, places: i32| {
        let scale = 10f64.powi(places);
        (v * scale).round() / scale
    };
    for (name, statement) in queries(db.get_database_backend(), &user.tenant, &range) {
        let counted: HashMap<i64, Counted> = Counted::find_by_statement(statement)
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.bucket, c))
            .collect();
        for (i, bucket) in buckets.iter_mut().enumerate() {
            let Some(c) = counted.get(&(i as i64)) else {
                continue;
            };
            let seconds = c.average.map(|ms| round(ms / 1000.0, 3));
            match name {
                "opened" => bucket.opened = c.n,
                "assigned" => {
                    bucket.assigned = c.n;
                    bucket.avg_wait_seconds = seconds;
                }
                "closed" => bucket.closed = c.n,
                "messages" => bucket.messages = c.n,
                "first responses" => bucket.avg_first_response_seconds = seconds,
                _ => {
                    bucket.ratings = c.n;
                    bucket.avg_rating = c.average.map(|r| round(r, 2));
                }
            }
        }
    }
    Ok(Report {
        bucket: if range.bucket_ms == DAY_MS {
            "day"
        } else {
            "hour"
        },
        from: rfc3339(range.from),
        to: rfc3339(range.to),
        buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_030_102_999; // 2026-11-30 09:15:02.999 UTC

    #[test]
    fn defaults_are_the_current_bucket_and_those_before() {
        let hours = Range::parse(None, None, None, NOW).expect("valid");
        assert_eq!(hours.to, NOW.div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS);
        assert_eq!(hours.buckets(), 24);
        let days = Range::parse(Some("day"), None, None, NOW).expect("valid");
        assert_eq!(days.buckets(), 30);
        assert_eq!(days.to % DAY_MS, 0);
    }

    #[test]
    fn from_rounds_down_and_to_up() {
        let r = Range::parse(
            None,
            Some("2026-11-30T09:15:00Z"),
            Some("2026-11-30T11:00:01+01:00"),
            NOW,
        )
        .expect("valid");
        assert_eq!(rfc3339(r.from), "2026-11-30T09:00:00.000Z");
        assert_eq!(rfc3339(r.to), "2026-11-30T11:00:00.000Z");
    }

    #[test]
    fn bad_ranges_are_refused() {
        let bad =
            |b: Option<&str>, f: Option<&str>, t: Option<&str>| Range::parse(b, f, t, NOW).is_err();
        assert!(bad(Some("week"), None, None));
        assert!(bad(None, Some("yesterday"), None));
        assert!(bad(
            None,
            Some("2026-11-30T10:00:00Z"),
            Some("2026-11-30T10:00:00Z")
        ));
        assert!(bad(
            None,
            Some("2026-11-01T00:00:00Z"),
            Some("2026-12-02T00:00:01Z")
        ));
        assert!(!bad(
            None,
            Some("2026-11-01T00:00:00Z"),
            Some("2026-12-02T00:00:00Z")
        ));
        assert!(bad(
            Some("day"),
            Some("2025-01-01T00:00:00Z"),
            Some("2026-01-03T00:00:00Z")
        ));
    }
}
