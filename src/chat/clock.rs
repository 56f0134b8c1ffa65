//! Time as the domain stores it (milliseconds since the epoch) and as the
//! protocol shows it (RFC 3339, UTC, milliseconds).

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2026-11-22T06:40:28.123Z`.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Start of the current UTC day, for the "today" statistics.
pub fn start_of_utc_day(ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    ms - ms.rem_euclid(DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        assert_eq!(rfc3339(1_795_329_628_123), "2026-11-22T06:40:28.123Z");
    }

    #[test]
    fn the_day_starts_at_utc_midnight() {
        assert_eq!(
            rfc3339(start_of_utc_day(1_795_329_628_123)),
            "2026-11-22T00:00:00.000Z"
        );
    }
}
