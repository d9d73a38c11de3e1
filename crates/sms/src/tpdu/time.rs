//! Time fields: service centre time stamps (3GPP TS 23.040 §9.2.3.11) and validity periods
//! (§9.2.3.12: relative, absolute, enhanced).

use super::Reader;
use crate::error::DecodeError;

/// A service centre time stamp, discharge time or absolute validity period
/// (3GPP TS 23.040 §9.2.3.11): local time as semi-octets plus the offset to GMT in quarters of
/// an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timestamp {
    /// Year within the century, 0..=99 (read as 2000 + year).
    pub year: u8,
    /// Month, 1..=12.
    pub month: u8,
    /// Day, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
    /// Local time minus GMT, in quarters of an hour (−79..=79).
    pub tz_quarters: i8,
}

impl Timestamp {
    /// Reads 7 semi-octet octets; a nibble above 9 is an error.
    pub(crate) fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let b = r.take(7, field)?;
        let bcd = |o: u8| -> Result<u8, DecodeError> {
            let (lo, hi) = (o & 0x0F, o >> 4);
            if lo > 9 || hi > 9 {
                return Err(DecodeError::invalid(field, "semi-octet above 9"));
            }
            Ok(lo * 10 + hi)
        };
        let tz = b[6];
        let (lo, hi) = (tz & 0x07, tz >> 4);
        if hi > 9 {
            return Err(DecodeError::invalid(field, "time zone semi-octet above 9"));
        }
        let q = (lo * 10 + hi) as i8;
        Ok(Timestamp {
            year: bcd(b[0])?,
            month: bcd(b[1])?,
            day: bcd(b[2])?,
            hour: bcd(b[3])?,
            minute: bcd(b[4])?,
            second: bcd(b[5])?,
            tz_quarters: if tz & 0x08 != 0 { -q } else { q },
        })
    }

    /// Appends the 7 octets (fields taken modulo 100, the time zone clamped to ±79).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let bcd = |v: u8| {
            let v = v % 100;
            (v % 10) << 4 | (v / 10)
        };
        out.extend_from_slice(&[
            bcd(self.year),
            bcd(self.month),
            bcd(self.day),
            bcd(self.hour),
            bcd(self.minute),
            bcd(self.second),
        ]);
        let q = self.tz_quarters.unsigned_abs().min(79);
        let sign = if self.tz_quarters < 0 { 0x08 } else { 0 };
        out.push((q % 10) << 4 | (q / 10) | sign);
    }

    /// Seconds since the Unix epoch (UTC), taking the year as 2000 + `year`; `None` when a field
    /// is out of range.
    pub fn unix_seconds(&self) -> Option<i64> {
        let ok = (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && self.year < 100;
        if !ok {
            return None;
        }
        let days = days_from_civil(
            2000 + i64::from(self.year),
            self.month.into(),
            self.day.into(),
        );
        let local = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        Some(local - i64::from(self.tz_quarters) * 900)
    }

    /// The time stamp of a Unix time shown in the zone `tz_quarters` (years 2000..=2099).
    pub fn from_unix_seconds(secs: i64, tz_quarters: i8) -> Timestamp {
        let local = secs + i64::from(tz_quarters) * 900;
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Timestamp {
            year: (y.rem_euclid(100)) as u8,
            month: m as u8,
            day: d as u8,
            hour: (sod / 3600) as u8,
            minute: (sod / 60 % 60) as u8,
            second: (sod % 60) as u8,
            tz_quarters,
        }
    }
}

// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// TP-Validity-Period (3GPP TS 23.040 §9.2.3.12), its format given by TP-VPF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ValidityPeriod {
    /// TP-VPF 10: one octet, see [`relative_seconds`] (§9.2.3.12.1).
    Relative(u8),
    /// TP-VPF 11: an absolute time (§9.2.3.12.2).
    Absolute(Timestamp),
    /// TP-VPF 01: seven octets (§9.2.3.12.3).
    Enhanced(EnhancedValidity),
}

impl ValidityPeriod {
    /// The relative period closest to, and not shorter than, `secs` (capped at 63 weeks).
    pub fn relative_from_seconds(secs: u64) -> Self {
        ValidityPeriod::Relative(relative_from_seconds(secs))
    }

    /// TP-VPF bits (4..3 of the first octet).
    pub(crate) fn vpf(&self) -> u8 {
        match self {
            ValidityPeriod::Relative(_) => 0b10,
            ValidityPeriod::Enhanced(_) => 0b01,
            ValidityPeriod::Absolute(_) => 0b11,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ValidityPeriod::Relative(v) => out.push(*v),
            ValidityPeriod::Absolute(t) => t.encode(out),
            ValidityPeriod::Enhanced(e) => out.extend_from_slice(&e.0),
        }
    }

    pub(crate) fn decode(vpf: u8, r: &mut Reader<'_>) -> Result<Option<Self>, DecodeError> {
        Ok(match vpf & 0x03 {
            0b00 => None,
            0b10 => Some(ValidityPeriod::Relative(r.u8("TP-VP")?)),
            0b11 => Some(ValidityPeriod::Absolute(Timestamp::decode(r, "TP-VP")?)),
            _ => {
                let b = r.take(7, "TP-VP")?;
                let mut raw = [0u8; 7];
                raw.copy_from_slice(b);
                Some(ValidityPeriod::Enhanced(EnhancedValidity(raw)))
            }
        })
    }
}

/// The seconds a relative TP-VP stands for (3GPP TS 23.040 §9.2.3.12.1): 0..=143 in 5-minute
/// steps, 144..=167 in 30-minute steps after 12 h, 168..=196 in days, 197..=255 in weeks.
pub fn relative_seconds(vp: u8) -> u64 {
    let v = u64::from(vp);
    match vp {
        0..=143 => (v + 1) * 300,
        144..=167 => 12 * 3600 + (v - 143) * 1800,
        168..=196 => (v - 166) * 86_400,
        _ => (v - 192) * 7 * 86_400,
    }
}

/// The smallest relative TP-VP that is at least `secs` (255, 63 weeks, when none is).
pub fn relative_from_seconds(secs: u64) -> u8 {
    // relative_seconds is monotonic, so a binary search would do; 256 steps are cheap enough.
    (0..=255u8)
        .find(|&vp| relative_seconds(vp) >= secs)
        .unwrap_or(255)
}

/// An enhanced validity period, kept as its seven octets so reserved formats round-trip
/// (3GPP TS 23.040 §9.2.3.12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EnhancedValidity(pub [u8; 7]);

/// The period an [`EnhancedValidity`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnhancedPeriod {
    /// Format 000: no validity period.
    None,
    /// Format 001: one octet in the relative format (see [`relative_seconds`]).
    Relative(u8),
    /// Format 010: 0..=255 seconds.
    Seconds(u8),
    /// Format 011: hours, minutes, seconds as semi-octets (values as read, not range-checked).
    HoursMinutesSeconds(u8, u8, u8),
    /// Formats 100..111: reserved.
    Reserved(u8),
}

impl EnhancedValidity {
    /// Builds the seven octets for a period; `single_shot` sets bit 6 (one delivery attempt).
    pub fn new(period: EnhancedPeriod, single_shot: bool) -> Self {
        let mut raw = [0u8; 7];
        let bcd = |v: u8| (v % 10) << 4 | (v / 10 % 10);
        let format = match period {
            EnhancedPeriod::None => 0,
            EnhancedPeriod::Relative(v) => {
                raw[1] = v;
                1
            }
            EnhancedPeriod::Seconds(v) => {
                raw[1] = v;
                2
            }
            EnhancedPeriod::HoursMinutesSeconds(h, m, s) => {
                raw[1] = bcd(h);
                raw[2] = bcd(m);
                raw[3] = bcd(s);
                3
            }
            EnhancedPeriod::Reserved(f) => f & 0x07,
        };
        raw[0] = format | if single_shot { 0x40 } else { 0 };
        EnhancedValidity(raw)
    }

    /// Bit 6 of the functionality indicator: the SC makes one delivery attempt only.
    pub fn single_shot(&self) -> bool {
        self.0[0] & 0x40 != 0
    }

    /// The period, by the format in bits 2..0 of the functionality indicator.
    pub fn period(&self) -> EnhancedPeriod {
        let unbcd = |o: u8| (o & 0x0F) * 10 + (o >> 4);
        match self.0[0] & 0x07 {
            0 => EnhancedPeriod::None,
            1 => EnhancedPeriod::Relative(self.0[1]),
            2 => EnhancedPeriod::Seconds(self.0[1]),
            3 => EnhancedPeriod::HoursMinutesSeconds(
                unbcd(self.0[1]),
                unbcd(self.0[2]),
                unbcd(self.0[3]),
            ),
            f => EnhancedPeriod::Reserved(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_stamp_example_decodes_with_time_zone() {
        // 2002-08-26 19:37:41 −01:00 (sign bit 3 set in 0x48) from the classic "How are you?" SMS-DELIVER.
        let b = crate::hex::decode("20806291731448").unwrap();
        let mut r = Reader::new(&b);
        let t = Timestamp::decode(&mut r, "TP-SCTS").unwrap();
        assert_eq!(
            (
                t.year,
                t.month,
                t.day,
                t.hour,
                t.minute,
                t.second,
                t.tz_quarters
            ),
            (2, 8, 26, 19, 37, 41, -4)
        );
        let mut out = Vec::new();
        t.encode(&mut out);
        assert_eq!(out, b);
        assert_eq!(t.unix_seconds(), Some(1_030_394_261));
    }

    #[test]
    fn negative_time_zone_sets_bit_3() {
        let t = Timestamp::from_unix_seconds(1_700_000_000, -20);
        let mut out = Vec::new();
        t.encode(&mut out);
        assert_eq!(out[6], 0x0A);
        let back = Timestamp::decode(&mut Reader::new(&out), "x").unwrap();
        assert_eq!(back, t);
        assert_eq!(back.unix_seconds(), Some(1_700_000_000));
    }

    #[test]
    fn non_bcd_time_stamp_is_an_error() {
        let b = [0x2A, 0, 0, 0, 0, 0, 0];
        assert!(Timestamp::decode(&mut Reader::new(&b), "x").is_err());
        assert!(Timestamp::decode(&mut Reader::new(&b[..3]), "x").is_err());
    }

    #[test]
    fn relative_validity_follows_the_table() {
        assert_eq!(relative_seconds(0), 300);
        assert_eq!(relative_seconds(143), 12 * 3600);
        assert_eq!(relative_seconds(167), 24 * 3600);
        assert_eq!(relative_seconds(168), 2 * 86_400);
        assert_eq!(relative_seconds(196), 30 * 86_400);
        assert_eq!(relative_seconds(197), 5 * 7 * 86_400);
        assert_eq!(relative_seconds(255), 63 * 7 * 86_400);
        assert_eq!(relative_from_seconds(3600), 11);
        assert_eq!(relative_from_seconds(24 * 3600), 167);
        assert_eq!(relative_from_seconds(u64::MAX), 255);
        for vp in 0..=255u8 {
            assert_eq!(relative_from_seconds(relative_seconds(vp)), vp);
        }
    }

    #[test]
    fn enhanced_validity_formats() {
        let e = EnhancedValidity::new(EnhancedPeriod::HoursMinutesSeconds(1, 30, 5), true);
        assert_eq!(e.0, [0x43, 0x10, 0x03, 0x50, 0, 0, 0]);
        assert!(e.single_shot());
        assert_eq!(e.period(), EnhancedPeriod::HoursMinutesSeconds(1, 30, 5));
        assert_eq!(
            EnhancedValidity::new(EnhancedPeriod::Seconds(90), false).period(),
            EnhancedPeriod::Seconds(90)
        );
    }
}
