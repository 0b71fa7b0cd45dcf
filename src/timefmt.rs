//! Time conversions: Intercom speaks unix seconds, Kustomer ISO-8601 UTC with milliseconds.

/// Days since 1970-01-01 for a civil date (proleptic Gregorian), after Howard Hinnant.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date `(year, month, day)` for days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `1700000000` → `"2023-11-14T22:13:20.000Z"`.
pub fn unix_to_iso(secs: i64) -> String {
    unix_ms_to_iso(secs.saturating_mul(1000))
}

/// `1700000000` → `"22:13:20 UTC"`: a moment today, for the operator to read.
pub fn unix_to_clock(secs: i64) -> String {
    let t = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02} UTC", t / 3600, (t / 60) % 60, t % 60)
}

/// Milliseconds since the epoch → ISO-8601 UTC with milliseconds.
pub fn unix_ms_to_iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` into milliseconds since the epoch.
pub fn iso_to_unix_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f = &frac[..digits];
        let padded = format!("{:0<3}", &f[..f.len().min(3)]);
        ms = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_secs = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hh: i64 = rest.get(1..3)?.parse().ok()?;
            let mm: i64 = rest.get(rest.len() - 2..)?.parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset_secs) * 1000 + ms)
}

/// Start of the UTC calendar day containing `secs`.
pub fn day_start(secs: i64) -> i64 {
    secs.div_euclid(86_400) * 86_400
}

/// Seconds since the epoch, now.
pub fn now_unix() -> i64 {
    now_unix_ms() / 1000
}

/// Milliseconds since the epoch, now.
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A duration as a person reads it: `850 ms`, `12.4 s`, `3 min 05 s`, `2 h 07 min`.
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        return format!("{} ms", d.as_millis());
    }
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    let whole = d.as_secs();
    if whole < 3_600 {
        return format!("{} min {:02} s", whole / 60, whole % 60);
    }
    format!("{} h {:02} min", whole / 3_600, (whole % 3_600) / 60)
}

/// Serde for a `Duration` as seconds (a plain number, fractions kept) — what `--json` and
/// `report.json` print. Reads the seconds, or the `{"secs", "nanos"}` object serde's default
/// wrote before (runs recorded by an earlier i2k).
pub mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Secs(f64),
        Parts { secs: u64, nanos: u32 },
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Either::deserialize(d)?.duration())
    }

    /// [`serialize`] for an `Option<Duration>` (`serialize_with`).
    pub fn serialize_option<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    /// [`deserialize`] for an `Option<Duration>` (`deserialize_with`).
    pub fn deserialize_option<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Either>::deserialize(d)?.map(Either::duration))
    }

    impl Either {
        fn duration(self) -> Duration {
            match self {
                Either::Secs(secs) => Duration::try_from_secs_f64(secs).unwrap_or_default(),
                Either::Parts { secs, nanos } => Duration::new(secs, nanos),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_become_iso_with_milliseconds() {
        assert_eq!(unix_to_iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(unix_to_iso(1_700_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(unix_ms_to_iso(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }

    #[test]
    fn iso_round_trips_and_honours_offsets() {
        for secs in [0i64, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(iso_to_unix_ms(&unix_to_iso(secs)), Some(secs * 1000));
        }
        assert_eq!(
            iso_to_unix_ms("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            iso_to_unix_ms("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(iso_to_unix_ms("not a date"), None);
        assert_eq!(iso_to_unix_ms("2023-13-14T22:13:20Z"), None);
    }

    #[test]
    fn day_start_truncates_to_midnight_utc() {
        assert_eq!(day_start(1_700_000_000), 1_699_920_000);
        assert_eq!(day_start(-1), -86_400);
    }

    #[test]
    fn durations_read_as_a_person_reads_them_and_serialize_as_seconds() {
        use std::time::Duration;
        assert_eq!(human_duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(human_duration(Duration::from_millis(12_440)), "12.4 s");
        assert_eq!(human_duration(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(human_duration(Duration::from_secs(7_620)), "2 h 07 min");
        #[derive(serde::Serialize, serde::Deserialize)]
        struct T {
            #[serde(with = "duration_secs")]
            d: Duration,
        }
        let text = serde_json::to_string(&T {
            d: Duration::from_millis(1_500),
        })
        .unwrap();
        assert_eq!(text, r#"{"d":1.5}"#);
        let old: T = serde_json::from_str(r#"{"d":{"secs":2,"nanos":500000000}}"#).unwrap();
        assert_eq!(old.d, Duration::from_millis(2_500));
    }
}
