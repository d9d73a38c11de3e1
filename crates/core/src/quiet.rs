//! Quiet hours: a tenant's `quiet_hours = "21:00-08:00"` in the recipient's local time. A
//! `normal` or `low` message that would go out inside the window is held until it ends (its
//! `send_at` moves there and the timeline says `deferred` with the reason); `high` messages
//! (alerts, commands) are never held.
//!
//! The recipient's local time comes from the number's country calling code: a built-in table
//! of standard offsets with the EU and US daylight-saving rules, longest prefix first, so an
//! operator can refine a country with several zones (`+1212` for New York) by a prefix of
//! their own. Numbers of unknown countries are taken as UTC.

use std::collections::HashMap;
use std::sync::RwLock;

/// Daylight-saving rule of a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dst {
    /// None.
    None,
    /// EU: +1 h from the last Sunday of March to the last Sunday of October, 01:00 UTC.
    Eu,
    /// US and Canada: +1 h from the second Sunday of March to the first Sunday of November,
    /// 02:00 local time.
    Us,
}

/// `(prefix, standard offset in minutes, rule)`.
const ZONES: &[(&str, i32, Dst)] = &[
    ("+1", -300, Dst::Us),
    ("+1206", -480, Dst::Us),
    ("+1213", -480, Dst::Us),
    ("+1312", -360, Dst::Us),
    ("+1415", -480, Dst::Us),
    ("+7", 180, Dst::None),
    ("+27", 120, Dst::None),
    ("+30", 120, Dst::Eu),
    ("+31", 60, Dst::Eu),
    ("+32", 60, Dst::Eu),
    ("+33", 60, Dst::Eu),
    ("+34", 60, Dst::Eu),
    ("+36", 60, Dst::Eu),
    ("+39", 60, Dst::Eu),
    ("+40", 120, Dst::Eu),
    ("+41", 60, Dst::Eu),
    ("+43", 60, Dst::Eu),
    ("+44", 0, Dst::Eu),
    ("+45", 60, Dst::Eu),
    ("+46", 60, Dst::Eu),
    ("+47", 60, Dst::Eu),
    ("+48", 60, Dst::Eu),
    ("+49", 60, Dst::Eu),
    ("+55", -180, Dst::None),
    ("+61", 600, Dst::None),
    ("+65", 480, Dst::None),
    ("+81", 540, Dst::None),
    ("+86", 480, Dst::None),
    ("+90", 180, Dst::None),
    ("+91", 330, Dst::None),
    ("+351", 0, Dst::Eu),
    ("+353", 0, Dst::Eu),
    ("+358", 120, Dst::Eu),
    ("+420", 60, Dst::Eu),
    ("+971", 240, Dst::None),
];

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Days since 1970-01-01 → (year, month 1–12, day 1–31) (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// The day (days since epoch) of the `n`th Sunday of a month (`n = -1`: the last).
fn sunday(y: i64, m: u32, n: i32) -> i64 {
    if n < 0 {
        let next = if m == 12 {
            days_from_civil(y + 1, 1, 1)
        } else {
            days_from_civil(y, m + 1, 1)
        };
        let last = next - 1;
        last - weekday(last)
    } else {
        let first = days_from_civil(y, m, 1);
        let to_sunday = (7 - weekday(first)) % 7;
        first + to_sunday + 7 * i64::from(n - 1)
    }
}

/// The UTC offset in minutes at Unix ms `t` in a zone.
pub fn offset_at(std_offset: i32, dst: Dst, t: i64) -> i32 {
    let (y, _, _) = civil(t.div_euclid(DAY_MS));
    let summer = match dst {
        Dst::None => false,
        Dst::Eu => {
            let start = sunday(y, 3, -1) * DAY_MS + HOUR_MS;
            let end = sunday(y, 10, -1) * DAY_MS + HOUR_MS;
            t >= start && t < end
        }
        Dst::Us => {
            let std = i64::from(std_offset) * 60_000;
            // 02:00 local standard time, and 02:00 local daylight time.
            let start = sunday(y, 3, 2) * DAY_MS + 2 * HOUR_MS - std;
            let end = sunday(y, 11, 1) * DAY_MS + 2 * HOUR_MS - (std + HOUR_MS);
            t >= start && t < end
        }
    };
    std_offset + if summer { 60 } else { 0 }
}

/// The zone of a number: the longest matching prefix of the built-in table.
pub fn zone_of(number: &str) -> (i32, Dst) {
    zone_in(&[], number)
}

/// The zone of a number: the longest matching prefix of `extra` (the operator's
/// `[[quiet_zones]]`, which win a tie) and the built-in table.
fn zone_in(extra: &[(String, i32, Dst)], number: &str) -> (i32, Dst) {
    let n = format!("+{}", number.trim_start_matches('+'));
    let built_in = ZONES.iter().map(|(p, o, d)| (*p, *o, *d));
    let mine = extra.iter().map(|(p, o, d)| (p.as_str(), *o, *d));
    mine.chain(built_in)
        .filter(|(p, _, _)| n.starts_with(p))
        .fold(None::<(&str, i32, Dst)>, |best, z| match best {
            Some(b) if b.0.len() >= z.0.len() => Some(b),
            _ => Some(z),
        })
        .map_or((0, Dst::None), |(_, o, d)| (o, d))
}

/// One `[[quiet_zones]]` entry: the local time of numbers starting with `prefix`, for
/// countries with several zones or missing from the built-in table.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// `+1212`, `+61 8`, …
    pub prefix: String,
    /// Standard time offset from UTC, `+01:00` or `-05:00`.
    pub utc_offset: String,
    /// Daylight-saving rule: `eu`, `us` or `none` (default).
    #[serde(default)]
    pub dst: Option<String>,
}

/// Checks `[[quiet_zones]]`; the error names the entry.
pub fn parse_zones(zones: &[ZoneConfig]) -> Result<Vec<(String, i32, Dst)>, String> {
    zones
        .iter()
        .map(|z| {
            let at = format!("[[quiet_zones]] '{}'", z.prefix);
            let prefix = format!("+{}", z.prefix.replace(' ', "").trim_start_matches('+'));
            if prefix.len() < 2 || !prefix[1..].bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{at}: the prefix must be digits, e.g. +1212"));
            }
            let off = z.utc_offset.trim();
            let (sign, rest) = match off.split_at_checked(1) {
                Some(("+", r)) => (1, r),
                Some(("-", r)) => (-1, r),
                _ => return Err(format!("{at}: utc_offset is written +01:00 or -05:00")),
            };
            let minutes = rest
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)))
                .filter(|(h, m)| *h <= 14 && *m < 60)
                .map(|(h, m)| sign * (h * 60 + m))
                .ok_or_else(|| format!("{at}: utc_offset is written +01:00 or -05:00"))?;
            let dst = match z.dst.as_deref().unwrap_or("none") {
                "eu" => Dst::Eu,
                "us" => Dst::Us,
                "none" => Dst::None,
                other => return Err(format!("{at}: dst '{other}': use eu, us or none")),
            };
            Ok((prefix, minutes, dst))
        })
        .collect()
}

/// A daily window in local minutes after midnight, `start..end` (wrapping past midnight when
/// `end < start`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    start: u32,
    end: u32,
}

impl Window {
    /// Parses `"21:00-08:00"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let hm = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let bad = || format!("quiet_hours '{s}': write it as \"21:00-08:00\" (local time)");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (start, end) = (hm(a).ok_or_else(bad)?, hm(b).ok_or_else(bad)?);
        if start == end {
            return Err(bad());
        }
        Ok(Self { start, end })
    }

    fn contains(&self, minute: u32) -> bool {
        if self.start < self.end {
            minute >= self.start && minute < self.end
        } else {
            minute >= self.start || minute < self.end
        }
    }

    /// When a message to `number` due at `t` may go: `t` itself outside the window, else the
    /// window's end (Unix ms).
    pub fn release(&self, number: &str, t: i64) -> Option<i64> {
        self.release_in(zone_of(number), t)
    }

    /// [`Window::release`] in a given zone (standard offset, rule).
    fn release_in(&self, zone: (i32, Dst), t: i64) -> Option<i64> {
        let (std, dst) = zone;
        let offset = i64::from(offset_at(std, dst, t)) * 60_000;
        let local = t + offset;
        let minute = (local.rem_euclid(DAY_MS) / 60_000) as u32;
        if !self.contains(minute) {
            return None;
        }
        let day_start = local - local.rem_euclid(DAY_MS);
        let mut end = day_start + i64::from(self.end) * 60_000;
        if end <= local {
            end += DAY_MS;
        }
        Some(end - offset)
    }
}

/// Each tenant's quiet hours, for the intake.
#[derive(Debug, Default)]
pub struct QuietHours {
    by_tenant: RwLock<HashMap<String, Window>>,
    zones: RwLock<Vec<(String, i32, Dst)>>,
}

impl QuietHours {
    /// Sets every tenant's window (at start and after a tenant changes); bad ones were refused
    /// when they were stored.
    pub fn set<'a>(&self, tenants: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let map = tenants
            .into_iter()
            .filter_map(|(t, w)| Window::parse(w).ok().map(|w| (t.to_owned(), w)))
            .collect();
        *self.by_tenant.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// Sets the operator's zones (`[[quiet_zones]]`, checked by [`parse_zones`]).
    pub fn set_zones(&self, zones: Vec<(String, i32, Dst)>) {
        *self.zones.write().unwrap_or_else(|e| e.into_inner()) = zones;
    }

    /// When a message to `number` due at `t` is released by `window` (a route's), in the
    /// operator's zones, if it holds it.
    pub fn release_by(&self, window: Window, number: &str, t: i64) -> Option<i64> {
        let zones = self.zones.read().unwrap_or_else(|e| e.into_inner());
        window.release_in(zone_in(&zones, number), t)
    }

    /// When a message of `tenant` to `number` due at `t` is released, if quiet hours hold it.
    pub fn release(&self, tenant: &str, number: &str, t: i64) -> Option<i64> {
        let map = self.by_tenant.read().unwrap_or_else(|e| e.into_inner());
        let window = map.get(tenant)?;
        let zones = self.zones.read().unwrap_or_else(|e| e.into_inner());
        window.release_in(zone_in(&zones, number), t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix ms of a UTC date and time.
    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * 60_000
    }

    #[test]
    fn civil_dates_round_trip_and_weekdays_are_right() {
        for days in [-1000, 0, 19_000, 20_454] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(
            weekday(days_from_civil(2026, 12, 7)),
            1,
            "2026-12-07 is a Monday"
        );
        assert_eq!(sunday(2026, 3, -1), days_from_civil(2026, 3, 29));
        assert_eq!(sunday(2026, 10, -1), days_from_civil(2026, 10, 25));
        assert_eq!(sunday(2026, 3, 2), days_from_civil(2026, 3, 8));
        assert_eq!(sunday(2026, 11, 1), days_from_civil(2026, 11, 1));
    }

    #[test]
    fn daylight_saving_switches_on_the_eu_and_us_dates() {
        // Berlin: CET in January, CEST from 2026-03-29 01:00 UTC.
        assert_eq!(offset_at(60, Dst::Eu, utc(2026, 1, 15, 12, 0)), 60);
        assert_eq!(offset_at(60, Dst::Eu, utc(2026, 3, 29, 0, 59)), 60);
        assert_eq!(offset_at(60, Dst::Eu, utc(2026, 3, 29, 1, 0)), 120);
        assert_eq!(offset_at(60, Dst::Eu, utc(2026, 10, 25, 1, 0)), 60);
        // New York: EDT from 2026-03-08 07:00 UTC (02:00 EST) to 2026-11-01 06:00 UTC.
        assert_eq!(offset_at(-300, Dst::Us, utc(2026, 3, 8, 6, 59)), -300);
        assert_eq!(offset_at(-300, Dst::Us, utc(2026, 3, 8, 7, 0)), -240);
        assert_eq!(offset_at(-300, Dst::Us, utc(2026, 11, 1, 5, 59)), -240);
        assert_eq!(offset_at(-300, Dst::Us, utc(2026, 11, 1, 6, 0)), -300);
        assert_eq!(zone_of("+4915112345678"), (60, Dst::Eu));
        assert_eq!(
            zone_of("+14155550100"),
            (-480, Dst::Us),
            "the longest prefix wins"
        );
        assert_eq!(zone_of("+999123"), (0, Dst::None));
    }

    #[test]
    fn operator_zones_refine_the_table_by_the_longest_prefix() {
        let zones = parse_zones(&[
            ZoneConfig {
                prefix: "+61 8".into(),
                utc_offset: "+08:00".into(),
                dst: None,
            },
            ZoneConfig {
                prefix: "+1212".into(),
                utc_offset: "-05:00".into(),
                dst: Some("us".into()),
            },
        ])
        .unwrap();
        assert_eq!(zone_in(&zones, "+61891234567"), (480, Dst::None), "Perth");
        assert_eq!(
            zone_in(&zones, "+61291234567"),
            (600, Dst::None),
            "Sydney: the table"
        );
        assert_eq!(zone_in(&zones, "+12125550100"), (-300, Dst::Us));
        let q = QuietHours::default();
        q.set([("acme", "21:00-08:00")]);
        q.set_zones(zones);
        // 2026-12-07 14:00 UTC is 22:00 in Perth: held until 08:00 Perth, 00:00 UTC.
        let t = utc(2026, 12, 7, 14, 0);
        assert_eq!(
            q.release("acme", "+61891234567", t),
            Some(utc(2026, 12, 8, 0, 0))
        );
        // Midnight in Sydney (the table's +10:00): held until 08:00 there, 22:00 UTC.
        assert_eq!(
            q.release("acme", "+61291234567", t),
            Some(utc(2026, 12, 7, 22, 0))
        );
        assert_eq!(
            q.release("bolt", "+61891234567", t),
            None,
            "no quiet hours for bolt"
        );
        let bad = |off: &str, dst: Option<&str>| {
            parse_zones(&[ZoneConfig {
                prefix: "+99".into(),
                utc_offset: off.into(),
                dst: dst.map(str::to_owned),
            }])
            .unwrap_err()
        };
        assert!(bad("1:00", None).contains("utc_offset"));
        assert!(bad("+01:00", Some("au")).contains("dst"));
    }

    #[test]
    fn a_message_inside_the_window_is_released_at_its_local_end() {
        let w = Window::parse("21:00-08:00").unwrap();
        // 2026-12-07 22:30 in Berlin (21:30 UTC): held until 08:00 Berlin, 07:00 UTC next day.
        let t = utc(2026, 12, 7, 21, 30);
        assert_eq!(w.release("+4915112345678", t), Some(utc(2026, 12, 8, 7, 0)));
        // 06:00 Berlin (05:00 UTC): held until 08:00 the same morning.
        assert_eq!(
            w.release("+4915112345678", utc(2026, 12, 8, 5, 0)),
            Some(utc(2026, 12, 8, 7, 0))
        );
        // Noon Berlin: sent now.
        assert_eq!(w.release("+4915112345678", utc(2026, 12, 8, 11, 0)), None);
        // Summer: CEST, the end is 06:00 UTC.
        assert_eq!(
            w.release("+4915112345678", utc(2026, 7, 1, 21, 0)),
            Some(utc(2026, 7, 2, 6, 0))
        );
        let day = Window::parse("12:00-13:00").unwrap();
        assert_eq!(
            day.release("+4412345", utc(2026, 12, 8, 12, 30)),
            Some(utc(2026, 12, 8, 13, 0))
        );
        assert!(Window::parse("25:00-08:00").is_err());
        assert!(Window::parse("21:00").is_err());
        assert!(Window::parse("08:00-08:00").is_err());
    }
}
