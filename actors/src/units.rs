//! Parsing of human durations (`10s`, `1m`, `250ms`, `72h`, `3d`) and byte sizes (`1MiB`,
//! `512KiB`, `1000000`) used by configuration. Pure functions; no defaults live here.

use std::time::Duration;

use crate::domain::Invalid;

/// Parses `<number><unit>` with unit `ms`, `s`, `m`, `h` or `d`. A bare number is refused:
/// a duration without a unit is a mistake waiting to happen.
pub fn parse_duration(raw: &str) -> Result<Duration, Invalid> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| Invalid(format!("{raw:?} needs a unit: ms, s, m, h or d")))?;
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| Invalid(format!("{raw:?} is not a duration like 10s, 250ms or 5m")))?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => {
            return Err(Invalid(format!(
                "{raw:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
            )));
        }
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| Invalid(format!("{raw:?} is too long")))
}

/// Parses a byte size: a bare number of bytes, or a number with `B`, `KB`, `KiB`, `MB`, `MiB`,
/// `GB` or `GiB`.
pub fn parse_size(raw: &str) -> Result<usize, Invalid> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| Invalid(format!("{raw:?} is not a size like 1MiB or 65536")))?;
    let mult: usize = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        other => return Err(Invalid(format!("{raw:?}: unknown size unit {other:?}"))),
    };
    n.checked_mul(mult)
        .ok_or_else(|| Invalid(format!("{raw:?} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("72h"), Ok(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86400)));
    }

    #[test]
    fn durations_without_a_known_unit_are_refused() {
        for bad in ["10", "", "s", "10x", "-1s", "1.5s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn sizes_parse_binary_and_decimal_units() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("MiB").is_err());
    }
}
