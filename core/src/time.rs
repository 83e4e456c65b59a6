//! Time as the service sees it: whole UTC seconds, rendered in api.video's ATOM form
//! (`2020-12-02T10:13:19+00:00`).

use chrono::{DateTime, SecondsFormat};

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

/// Formats `secs` as RFC 3339 at second precision with a `+00:00` offset.
///
/// Every value the service produces (a creation time plus at most `i32::MAX` seconds) is far
/// inside chrono's range; anything outside it is rendered as the epoch rather than panicking.
pub fn format_atom(secs: UnixSeconds) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, false)
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
    fn millis_round_down_to_the_second() {
        assert_eq!(from_millis(1_606_903_999_999.0), 1_606_903_999);
        assert_eq!(from_millis(1_606_903_999_000.0), 1_606_903_999);
    }
}
