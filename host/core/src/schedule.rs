//! Cron schedule expressions: five fields with an optional `CRON_TZ=Zone ` / `TZ=Zone ` prefix.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed schedule: the cron pattern and its time zone (`None` = the scheduler's zone).
#[derive(Clone, Debug)]
pub struct Schedule {
    pub cron: Cron,
    pub timezone: Option<chrono_tz::Tz>,
}

/// Parses a schedule expression; the error says what is wrong with it.
pub fn parse(expr: &str) -> Result<Schedule, String> {
    let expr = expr.trim();
    let (timezone, body) = match expr.split_once(' ') {
        Some((prefix, rest)) if prefix.starts_with("CRON_TZ=") || prefix.starts_with("TZ=") => {
            let zone = prefix.split_once('=').map(|(_, z)| z).unwrap_or_default();
            let tz = zone
                .parse::<chrono_tz::Tz>()
                .map_err(|_| format!("unknown time zone '{zone}'"))?;
            (Some(tz), rest.trim())
        }
        _ => (None, expr),
    };
    if body.starts_with('@') {
        return Err(format!(
            "descriptors such as '{body}' are not supported; write five cron fields"
        ));
    }
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    let cron = parser.parse(body).map_err(|e| e.to_string())?;
    Ok(Schedule { cron, timezone })
}

/// Checks a schedule expression.
pub fn check(expr: &str) -> Result<(), String> {
    parse(expr).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_five_fields_and_zones() {
        assert!(check("*/5 * * * *").is_ok());
        assert!(check("CRON_TZ=Asia/Tokyo 0 9 * * MON-FRI").is_ok());
    }

    #[test]
    fn rejects_other_shapes() {
        assert!(
            check("* * * *")
                .unwrap_err()
                .contains("exactly 5 fields, found 4")
        );
        assert!(check("0 * * * * *").is_err());
        assert!(check("@daily").is_err());
        assert!(
            check("TZ=Nowhere/Land 0 * * * *")
                .unwrap_err()
                .contains("unknown time zone")
        );
        assert!(check("61 * * * *").is_err());
    }
}
