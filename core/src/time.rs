//! Time as the service sees it: whole UTC seconds, rendered in api.video's ATOM form
//! (`2020-12-02T10:13:19+00:00`).

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01, by the
/// usual era arithmetic (eras of 400 years, 146,097 days, starting on March 1st).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st, 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push_digits(out: &mut String, value: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = value.unsigned_abs();
    let mut i = buf.len();
    while v > 0 || buf.len() - i < width {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    if value < 0 {
        out.push('-');
    }
    out.extend(buf[i..].iter().map(|&b| b as char));
}

/// Formats `secs` as RFC 3339 at second precision with a `+00:00` offset.
pub fn format_atom(secs: UnixSeconds) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let second_of_day = secs.rem_euclid(86_400);
    let mut out = String::with_capacity(25);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, i64::from(month), 2);
    out.push('-');
    push_digits(&mut out, i64::from(day), 2);
    out.push('T');
    push_digits(&mut out, second_of_day / 3600, 2);
    out.push(':');
    push_digits(&mut out, second_of_day % 3600 / 60, 2);
    out.push(':');
    push_digits(&mut out, second_of_day % 60, 2);
    out.push_str("+00:00");
    out
}

/// Turns milliseconds since the epoch (what the JavaScript clock gives) into whole seconds.
pub fn from_millis(ms: f64) -> UnixSeconds {
    (ms / 1000.0).floor() as UnixSeconds
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, SecondsFormat};

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

    /// Cross-checks against chrono (a dev-dependency only) over a spread of instants up to
    /// the year 9999, beyond any creation time plus the largest ttl.
    #[test]
    fn agrees_with_chrono_over_many_instants() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = if i < 1000 {
                i as i64 * 86_399
            } else {
                (x % 253_402_300_800) as i64
            };
            let want = DateTime::from_timestamp(secs, 0)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Secs, false);
            assert_eq!(format_atom(secs), want, "{secs}");
        }
    }

    #[test]
    fn millis_round_down_to_the_second() {
        assert_eq!(from_millis(1_606_903_999_999.0), 1_606_903_999);
        assert_eq!(from_millis(1_606_903_999_000.0), 1_606_903_999);
    }
}
