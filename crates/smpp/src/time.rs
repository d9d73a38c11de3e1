//! SMPP time strings (SMPP 3.4 §7.1.1, `schedule_delivery_time` and `validity_period`) and the
//! `YYMMDDhhmm` dates of text receipts (SMPP 3.4 Appendix B), written once for the connector,
//! the server and the simulator. No clock: `now` is passed in.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Why an SMPP time string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an SMPP time (YYMMDDhhmmsstnnp, p = '+', '-' or 'R'; SMPP 3.4 §7.1.1)")]
pub struct BadTime(pub String);

/// Parses an SMPP time to Unix ms: absolute (`p` is `+`/`-`, `nn` quarter hours from UTC) or
/// relative to `now_ms` (`p` is `R`; a year counts 365 days, a month 30). An empty string is
/// `None` (the SMSC default).
pub fn parse(s: &str, now_ms: i64) -> Result<Option<i64>, BadTime> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || BadTime(s.to_owned());
    let b = s.as_bytes();
    if b.len() != 16 || !b[..15].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n = |i: usize| i64::from(b[i] - b'0') * 10 + i64::from(b[i + 1] - b'0');
    let (yy, mo, dd, hh, mi, ss) = (n(0), n(2), n(4), n(6), n(8), n(10));
    let tenths = i64::from(b[12] - b'0');
    match b[15] {
        b'R' => {
            let days = yy * 365 + mo * 30 + dd;
            let secs = ((days * 24 + hh) * 60 + mi) * 60 + ss;
            Ok(Some(now_ms + secs * 1000 + tenths * 100))
        }
        sign @ (b'+' | b'-') => {
            let quarters = n(13);
            if quarters > 48 {
                return Err(bad());
            }
            let local = DateTime::new(
                2000 + yy as i16,
                mo as i8,
                dd as i8,
                hh as i8,
                mi as i8,
                ss as i8,
                0,
            )
            .map_err(|_| bad())?;
            let utc = local
                .to_zoned(TimeZone::UTC)
                .map_err(|_| bad())?
                .timestamp()
                .as_millisecond();
            let offset_ms = quarters * 15 * 60_000;
            // "+" means local time is ahead of UTC: UTC = local - offset.
            let utc = if sign == b'+' {
                utc - offset_ms
            } else {
                utc + offset_ms
            };
            Ok(Some(utc + tenths * 100))
        }
        _ => Err(bad()),
    }
}

/// `YYMMDDhhmm` in UTC, as text receipts write dates (SMPP 3.4 Appendix B).
pub fn receipt_date(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(TimeZone::UTC)
        .strftime("%y%m%d%H%M")
        .to_string()
}

/// An absolute SMPP time in UTC (`YYMMDDhhmmss000+`, SMPP 3.4 §7.1.1.1), as `query_sm_resp`
/// writes `final_date`.
pub fn absolute(ms: i64) -> String {
    let t = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let tenths = (ms.rem_euclid(1000) / 100) as u8;
    format!(
        "{}{}00+",
        t.to_zoned(TimeZone::UTC).strftime("%y%m%d%H%M%S"),
        tenths
    )
}

/// A relative SMPP time `YYMMDDhhmmss000R` for `ms` from now (SMPP 3.4 §7.1.1.2), as a
/// connector writes `validity_period`: at least a second, at most 99 days and a day's seconds.
pub fn relative(ms: i64) -> String {
    let secs = (ms.max(1000) / 1000).min(99 * 86_400 + 86_399);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    format!(
        "0000{:02}{:02}{:02}{:02}000R",
        days,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_735_732_800_000; // 2025-01-01T12:00:00Z

    #[test]
    fn relative_times_count_from_now() {
        assert_eq!(parse("000001020304000R", NOW), Ok(Some(NOW + 93_784_000)));
        assert_eq!(parse("", NOW), Ok(None));
    }

    #[test]
    fn absolute_times_apply_their_quarter_hour_offset() {
        // 13:00 local at UTC+1 (04 quarters) is 12:00 UTC.
        assert_eq!(parse("250101130000004+", NOW), Ok(Some(NOW)));
        assert_eq!(parse("250101110000004-", NOW), Ok(Some(NOW)));
        assert_eq!(parse("250101120000500+", NOW), Ok(Some(NOW + 500)));
    }

    #[test]
    fn malformed_times_are_refused() {
        for s in [
            "25010112000000+",
            "2501011200000000",
            "251301120000000+",
            "x50101120000000R",
        ] {
            assert!(parse(s, NOW).is_err(), "{s}");
        }
    }

    #[test]
    fn receipt_dates_are_utc_minutes() {
        assert_eq!(receipt_date(NOW), "2501011200");
    }

    #[test]
    fn relative_times_round_trip_through_the_parser_within_their_caps() {
        assert_eq!(relative(93_784_000), "000001020304000R");
        assert_eq!(
            parse(&relative(93_784_000), NOW),
            Ok(Some(NOW + 93_784_000))
        );
        assert_eq!(relative(10), "000000000001000R");
        assert_eq!(relative(i64::MAX), "000099235959000R");
    }

    #[test]
    fn absolute_times_round_trip_through_the_parser() {
        let t = NOW + 61_700;
        assert_eq!(absolute(t), "250101120101700+");
        assert_eq!(parse(&absolute(t), 0), Ok(Some(t)));
    }
}
