//! Modification times: seconds since the Unix epoch (UTC), converted to what archives
//! and summaries need.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// `t` as whole seconds since the epoch (negative before it).
pub(crate) fn seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The time `secs` seconds after the epoch.
pub(crate) fn system_time(secs: i64) -> SystemTime {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// `secs` as RFC 3339 in UTC, e.g. `2024-05-01T12:00:00Z`.
pub(crate) fn rfc3339(secs: i64) -> String {
    let (date, time) = split(secs);
    let (y, m, d) = civil(date);
    let (hh, mm, ss) = (time / 3600, time % 3600 / 60, time % 60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// `secs` as a zip (MS-DOS) time, read as UTC; clamped to the years 1980–2107 the format
/// can hold. MS-DOS times have two-second steps.
pub(crate) fn to_dos(secs: i64) -> zip::DateTime {
    let (date, time) = split(secs);
    let (y, m, d) = civil(date);
    let fallback = zip::DateTime::default();
    match y {
        ..1980 => fallback,
        2108.. => zip::DateTime::from_date_and_time(2107, 12, 31, 23, 59, 58).unwrap_or(fallback),
        _ => zip::DateTime::from_date_and_time(
            y as u16,
            m as u8,
            d as u8,
            (time / 3600) as u8,
            (time % 3600 / 60) as u8,
            (time % 60) as u8,
        )
        .unwrap_or(fallback),
    }
}

/// A zip (MS-DOS) time, read as UTC, in seconds since the epoch.
pub(crate) fn from_dos(t: &zip::DateTime) -> i64 {
    let days = days_from_civil(
        i64::from(t.year()),
        i64::from(t.month()),
        i64::from(t.day()),
    );
    days * DAY + i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second())
}

/// Days since the epoch and seconds into that day.
fn split(secs: i64) -> (i64, i64) {
    (secs.div_euclid(DAY), secs.rem_euclid(DAY))
}

/// The proleptic Gregorian (year, month, day) of `days` after 1970-01-01.
fn civil(days: i64) -> (i64, i64, i64) {
    // Count from 0000-03-01 in 400-year eras, so that leap days end each year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date; the inverse of [`civil`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800 + 3723), "2024-05-01T13:02:03Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn dos_times_round_trip_to_two_seconds() {
        let t = 1_714_564_800 + 3723;
        assert_eq!(from_dos(&to_dos(t)), t - 1);
        assert_eq!(from_dos(&to_dos(0)), from_dos(&zip::DateTime::default()));
    }

    #[test]
    fn system_times_round_trip() {
        for secs in [-5, 0, 1_714_564_800] {
            assert_eq!(seconds(system_time(secs)), secs);
        }
    }
}
