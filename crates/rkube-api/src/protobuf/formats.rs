//! Text forms that Go's JSON encoding gives to special values: times, durations, bytes.

/// `metav1.Time` as Go's JSON writes it: RFC 3339 in UTC, whole seconds
/// (`2006-01-02T15:04:05Z`).
pub(crate) fn rfc3339_seconds(seconds: i64) -> String {
    let (date, time) = civil_from_unix(seconds);
    format!("{date}T{time}Z")
}

/// `metav1.MicroTime` as Go's JSON writes it: RFC 3339 in UTC with six fractional digits.
pub(crate) fn rfc3339_micros(seconds: i64, nanos: i32) -> String {
    let (date, time) = civil_from_unix(seconds);
    let micros = nanos.clamp(0, 999_999_999) / 1000;
    format!("{date}T{time}.{micros:06}Z")
}

/// `("YYYY-MM-DD", "HH:MM:SS")` for a Unix time, proleptic Gregorian calendar.
fn civil_from_unix(seconds: i64) -> (String, String) {
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        ),
    )
}

/// `metav1.Duration` as Go's `time.Duration.String` writes it (`1h2m3.5s`, `1.5ms`, `0s`).
pub(crate) fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let total = nanos.unsigned_abs();
    if total < 1_000 {
        return format!("{sign}{total}ns");
    }
    if total < 1_000_000 {
        return format!("{sign}{}µs", decimal(total, 3));
    }
    if total < 1_000_000_000 {
        return format!("{sign}{}ms", decimal(total, 6));
    }
    let whole_seconds = total / 1_000_000_000;
    let seconds = decimal(total % 60_000_000_000, 9);
    let minutes = whole_seconds / 60 % 60;
    let hours = whole_seconds / 3600;
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{seconds}s")
    }
}

/// `value / 10^digits` with the fraction's trailing zeros (and a bare point) removed.
fn decimal(value: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let fraction = value % scale;
    if fraction == 0 {
        return (value / scale).to_string();
    }
    let fraction = format!("{fraction:0width$}", width = digits as usize);
    format!("{}.{}", value / scale, fraction.trim_end_matches('0'))
}

/// Standard base64 with padding, as Go's JSON writes `[]byte`.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk[0]);
        let b1 = chunk.get(1).copied().map_or(0, u32::from);
        let b2 = chunk.get(2).copied().map_or(0, u32::from);
        let triple = (b0 << 16) | (b1 << 8) | b2;
        for (index, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[((triple >> shift) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_go() {
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_seconds(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_seconds(-1), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339_micros(1_700_000_000, 123_456_789),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(rfc3339_micros(0, 0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn formats_durations_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(999), "999ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(1_000_000_000), "1s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(600_000_000_000), "10m0s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(go_duration(-90_000_000_000), "-1m30s");
    }

    #[test]
    fn encodes_base64_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"hunter2"), "aHVudGVyMg==");
        assert_eq!(base64(&[0, 1, 0xff]), "AAH/");
    }
}
