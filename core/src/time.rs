//! Time as the service sees it: whole UTC seconds, rendered in api.video's ATOM form
//! (`2020-12-02T10:13:19+00:00`).

use chrono::{DateTime, SecondsFormat, Utc};

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

/// Formats `secs` as RFC 3339 at second precision with a `+00:00` offset. Instants chrono
/// cannot represent (beyond ±262,000 years, far past any creation time plus the largest ttl)
/// are clamped to its range.
pub fn format_atom(secs: UnixSeconds) -> String {
    let at = DateTime::from_timestamp(secs, 0).unwrap_or(if secs < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    });
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Reads an RFC 3339 date back into seconds (what `format_atom` writes, or any offset).
pub fn parse_atom(text: &str) -> Option<UnixSeconds> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.timestamp())
}

/// Turns milliseconds since the epoch (what the JavaScript clock gives) into whole seconds.
pub fn from_millis(ms: f64) -> UnixSeconds {
    (ms / 1000.0).floor() as UnixSeconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_published_examples() {
        assert_eq!(format_atom(1_606_903_999), "2020-12-02T10:13:19+00:00");
        assert_eq!(
            format_atom(1_606_903_999 + 3600),
            "2020-12-02T11:13:19+00:00"
        );
        assert_eq!(format_atom(0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn leap_days_and_century_rules() {
        assert_eq!(format_atom(951_782_400), "2000-02-29T00:00:00+00:00");
        assert_eq!(format_atom(4_107_542_400), "2100-03-01T00:00:00+00:00");
        assert_eq!(format_atom(1_709_164_799), "2024-02-28T23:59:59+00:00");
        assert_eq!(format_atom(1_709_164_800), "2024-02-29T00:00:00+00:00");
        assert_eq!(format_atom(-1), "1969-12-31T23:59:59+00:00");
    }

    #[test]
    fn dates_read_back_to_their_seconds() {
        for secs in [0, -1, 951_782_400, 1_606_903_999, 4_107_542_400] {
            assert_eq!(parse_atom(&format_atom(secs)), Some(secs), "{secs}");
        }
        assert_eq!(parse_atom("2020-12-02T11:13:19+01:00"), Some(1_606_903_999));
        assert_eq!(parse_atom("2020-12-02 10:13:19"), None);
        assert_eq!(parse_atom(""), None);
    }

    #[test]
    fn millis_round_down_to_the_second() {
        assert_eq!(from_millis(1_606_903_999_999.0), 1_606_903_999);
        assert_eq!(from_millis(1_606_903_999_000.0), 1_606_903_999);
    }
}
