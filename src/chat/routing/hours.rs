//! Business hours (docs/protocol.md §8): weekly local `HH:MM` ranges in an
//! IANA time zone, evaluated with the zone's rules (daylight saving
//! included) by `chrono-tz`, never by fixed offsets.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;

use crate::error::{AppError, AppResult};

pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Validated business hours; serialises as the protocol's `BusinessHours`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BusinessHours {
    /// An IANA time zone name, e.g. `Europe/Madrid`.
    pub timezone: String,
    /// Per day, `[start, end)` ranges in minutes of the local day, as given.
    #[serde(serialize_with = "weekly_as_text")]
    #[schema(schema_with = weekly_schema)]
    pub weekly: BTreeMap<&'static str, Vec<(u16, u16)>>,
}

impl BusinessHours {
    /// Parses and checks `{ timezone, weekly }`: a known IANA zone, day
    /// names `mon`..`sun`, `HH:MM` times (`24:00` allowed as an end) and
    /// `start < end`. Anything else is `invalid_payload`.
    pub fn parse(value: &Value) -> AppResult<Self> {
        let object = value
            .as_object()
            .ok_or_else(|| AppError::invalid("businessHours must be an object or null"))?;
        if let Some(key) = object.keys().find(|k| *k != "timezone" && *k != "weekly") {
            return Err(AppError::invalid(format!(
                "businessHours has an unknown key '{key}'"
            )));
        }
        let timezone = object
            .get("timezone")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                AppError::invalid("businessHours.timezone must be an IANA time zone name")
            })?;
        timezone
            .parse::<Tz>()
            .map_err(|_| AppError::invalid(format!("unknown time zone '{timezone}'")))?;
        let days = match object.get("weekly") {
            Some(Value::Object(days)) => days,
            _ => return Err(AppError::invalid("businessHours.weekly must be an object")),
        };
        let mut weekly = BTreeMap::new();
        for (day, ranges) in days {
            let day = DAYS
                .iter()
                .find(|d| **d == day)
                .ok_or_else(|| AppError::invalid(format!("unknown day '{day}' (mon..sun)")))?;
            let ranges = match ranges {
                Value::Array(ranges) => ranges,
                Value::Null => continue,
                _ => {
                    return Err(AppError::invalid(format!(
                        "weekly.{day} must be a list of [start, end]"
                    )));
                }
            };
            let mut parsed = Vec::with_capacity(ranges.len());
            for range in ranges {
                parsed.push(parse_range(day, range)?);
            }
            weekly.insert(*day, parsed);
        }
        Ok(Self {
            timezone: timezone.to_string(),
            weekly,
        })
    }

    /// Whether `at` falls in one of the ranges of its local day.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let Ok(zone) = self.timezone.parse::<Tz>() else {
            return true;
        };
        let local = at.with_timezone(&zone);
        let day = DAYS[local.weekday().num_days_from_monday() as usize];
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.weekly.get(day).is_some_and(|ranges| {
            ranges
                .iter()
                .any(|&(start, end)| start <= minute && minute < end)
        })
    }
}

fn parse_range(day: &str, range: &Value) -> AppResult<(u16, u16)> {
    let bad = || {
        AppError::invalid(format!(
            "weekly.{day}: each range is [\"HH:MM\", \"HH:MM\"]"
        ))
    };
    let pair = range.as_array().filter(|p| p.len() == 2).ok_or_else(bad)?;
    let start = pair[0].as_str().ok_or_else(bad)?;
    let end = pair[1].as_str().ok_or_else(bad)?;
    let (start, end) = (minutes(start, false)?, minutes(end, true)?);
    if start >= end {
        return Err(AppError::invalid(format!(
            "weekly.{day}: a range must start before it ends"
        )));
    }
    Ok((start, end))
}

/// `HH:MM` as minutes of the day; `24:00` only as an end.
fn minutes(text: &str, is_end: bool) -> AppResult<u16> {
    let bad = || AppError::invalid(format!("'{text}' is not a time HH:MM"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    match (h, m) {
        (24, 0) if is_end => Ok(24 * 60),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

fn weekly_as_text<S: serde::Serializer>(
    weekly: &BTreeMap<&'static str, Vec<(u16, u16)>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let text = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let days: BTreeMap<&str, Vec<[String; 2]>> = weekly
        .iter()
        .map(|(day, ranges)| {
            (
                *day,
                ranges.iter().map(|&(a, b)| [text(a), text(b)]).collect(),
            )
        })
        .collect();
    days.serialize(s)
}

/// The schema of `weekly` as [`weekly_as_text`] writes it: per day name,
/// local `["HH:MM", "HH:MM"]` ranges; a day absent or `[]` is closed.
fn weekly_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Type};
    let time = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^([01][0-9]|2[0-4]):[0-5][0-9]$"));
    let range = ArrayBuilder::new()
        .items(time)
        .min_items(Some(2))
        .max_items(Some(2));
    let ranges = ArrayBuilder::new().items(range).build();
    DAYS.iter()
        .fold(ObjectBuilder::new(), |day, name| {
            day.property(*name, ranges.clone())
        })
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(
            "Per day, local [start, end) ranges; a day absent or [] is closed.",
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn hours(zone: &str, weekly: Value) -> BusinessHours {
        BusinessHours::parse(&json!({ "timezone": zone, "weekly": weekly })).unwrap()
    }

    #[test]
    fn ranges_are_local_and_end_exclusive() {
        // 2026-12-01 is a Tuesday; Madrid is UTC+1 in winter.
        let h = hours("Europe/Madrid", json!({ "tue": [["09:00", "17:00"]] }));
        assert!(!h.is_open(at("2026-12-01T07:59:00Z")), "08:59 local");
        assert!(h.is_open(at("2026-12-01T08:00:00Z")), "09:00 local");
        assert!(h.is_open(at("2026-12-01T15:59:59Z")), "16:59 local");
        assert!(
            !h.is_open(at("2026-12-01T16:00:00Z")),
            "17:00 local: the end is closed"
        );
        assert!(
            !h.is_open(at("2026-12-02T10:00:00Z")),
            "Wednesday has no range"
        );
    }

    #[test]
    fn daylight_saving_moves_the_hours_in_utc() {
        // Madrid springs forward on 2026-03-29 at 02:00 local (01:00 UTC).
        let h = hours("Europe/Madrid", json!({ "sun": [["03:00", "04:00"]] }));
        assert!(!h.is_open(at("2026-03-29T00:30:00Z")), "01:30 CET");
        assert!(h.is_open(at("2026-03-29T01:30:00Z")), "03:30 CEST");
        // A summer Sunday: 03:00-04:00 local is 01:00-02:00 UTC.
        assert!(h.is_open(at("2026-07-05T01:00:00Z")));
        assert!(!h.is_open(at("2026-07-05T02:00:00Z")));
        // New York's change is on another date: on 2026-03-15 (after the US
        // change) 09:00 local is 13:00 UTC, on 2026-03-01 it is 14:00 UTC.
        let ny = hours("America/New_York", json!({ "sun": [["09:00", "10:00"]] }));
        assert!(ny.is_open(at("2026-03-15T13:30:00Z")));
        assert!(!ny.is_open(at("2026-03-01T13:30:00Z")));
        assert!(ny.is_open(at("2026-03-01T14:30:00Z")));
    }

    #[test]
    fn bad_hours_are_refused() {
        for bad in [
            json!({ "timezone": "Mars/Olympus", "weekly": {} }),
            json!({ "timezone": "UTC", "weekly": { "mon": [["25:00", "26:00"]] } }),
            json!({ "timezone": "UTC", "weekly": { "mon": [["10:00", "09:00"]] } }),
            json!({ "timezone": "UTC", "weekly": { "mon": [["10:00", "10:00"]] } }),
            json!({ "timezone": "UTC", "weekly": { "funday": [] } }),
            json!({ "timezone": "UTC", "weekly": { "mon": [["9:00", "10:00"]] } }),
            json!({ "timezone": "UTC", "weekly": { "mon": [["24:00", "24:00"]] } }),
            json!({ "timezone": "UTC", "weekly": { "mon": ["09:00-10:00"] } }),
            json!({ "timezone": "UTC" }),
            json!({ "timezone": "UTC", "weekly": {}, "extra": 1 }),
            json!("UTC"),
        ] {
            assert!(BusinessHours::parse(&bad).is_err(), "{bad} was accepted");
        }
        let h = hours("UTC", json!({ "mon": [["00:00", "24:00"]], "sun": [] }));
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            json!({ "timezone": "UTC", "weekly": { "mon": [["00:00", "24:00"]], "sun": [] } })
        );
    }
}
