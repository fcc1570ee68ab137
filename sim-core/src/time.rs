//! Simulated time: integer nanoseconds, never floats, never the wall clock.
//!
//! `SimTime` is an instant since the start of a run; `SimDuration` a span between two instants.
//! Both wrap a `u64` of nanoseconds (enough for 584 years). Arithmetic saturates at the top, so a
//! huge duration read from a file can never wrap around into the past.
//!
//! Human units are parsed and printed: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`, with an
//! optional fraction (`"1.5s"`) and optional underscores (`"1_000ms"`).

use std::fmt;

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;
const NS_PER_MIN: u64 = 60 * NS_PER_S;
const NS_PER_H: u64 = 60 * NS_PER_MIN;
const NS_PER_D: u64 = 24 * NS_PER_H;

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_ns(ns: u64) -> SimTime {
        SimTime(ns)
    }
    pub const fn as_ns(self) -> u64 {
        self.0
    }
    /// The time `d` after `self`, saturating at `SimTime::MAX`.
    pub const fn after(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self`; zero when `earlier` is later.
    pub const fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_ns(ns: u64) -> SimDuration {
        SimDuration(ns)
    }
    pub const fn from_us(us: u64) -> SimDuration {
        SimDuration(us.saturating_mul(NS_PER_US))
    }
    pub const fn from_ms(ms: u64) -> SimDuration {
        SimDuration(ms.saturating_mul(NS_PER_MS))
    }
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s.saturating_mul(NS_PER_S))
    }
    pub const fn from_mins(m: u64) -> SimDuration {
        SimDuration(m.saturating_mul(NS_PER_MIN))
    }
    pub const fn from_hours(h: u64) -> SimDuration {
        SimDuration(h.saturating_mul(NS_PER_H))
    }
    pub const fn as_ns(self) -> u64 {
        self.0
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// Seconds as a float, for reports only (rates, means). Never feed it back into time.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    pub const fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
    pub const fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }

    /// Parses a duration with a unit: `"250us"`, `"1.5s"`, `"2m"`, `"1h"`, `"0"`.
    ///
    /// A bare `0` is accepted (zero needs no unit); any other number needs one. Fractions are exact
    /// to the nanosecond: `"1.5s"` is 1_500_000_000 ns, `"0.0000000001s"` is an error rather than
    /// a silent zero.
    pub fn parse(text: &str) -> Result<SimDuration, ParseDurationError> {
        let err = |reason| ParseDurationError {
            text: text.to_string(),
            reason,
        };
        let s = text.trim();
        if s.starts_with('-') {
            return Err(err(Reason::Negative));
        }
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .ok_or_else(|| err(Reason::MissingUnit))?;
        let (number, unit) = s.split_at(split);
        // Compound durations, largest unit first: `2m30s`, `1h15m`, `1s500ms`.
        if let Some(next) = unit.find(|c: char| c.is_ascii_digit() || c == '.') {
            let (unit, rest) = unit.split_at(next);
            let head = SimDuration::parse(&format!("{number}{unit}")).map_err(|e| err(e.reason))?;
            let tail = SimDuration::parse(rest).map_err(|e| err(e.reason))?;
            return head
                .as_ns()
                .checked_add(tail.as_ns())
                .map(SimDuration::from_ns)
                .ok_or_else(|| err(Reason::TooLarge));
        }
        let unit_ns = ns_per_unit(unit.trim()).map_err(err)?;
        number_ns(number, unit_ns).map(SimDuration).map_err(err)
    }
}

/// Nanoseconds in one `unit`.
fn ns_per_unit(unit: &str) -> Result<u64, Reason> {
    Ok(match unit {
        "ns" => 1,
        "us" | "µs" => NS_PER_US,
        "ms" => NS_PER_MS,
        "s" => NS_PER_S,
        "m" | "min" => NS_PER_MIN,
        "h" => NS_PER_H,
        "d" => NS_PER_D,
        _ => return Err(Reason::UnknownUnit(unit.to_string())),
    })
}

/// Nanoseconds in `number` units of `unit_ns` each: digits with optional underscores and an
/// optional fraction, exact to the nanosecond.
fn number_ns(number: &str, unit_ns: u64) -> Result<u64, Reason> {
    let number: String = number.chars().filter(|&c| c != '_').collect();
    if number.is_empty() {
        return Err(Reason::MissingNumber);
    }
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number.as_str(), ""),
    };
    if frac.contains('.') || (whole.is_empty() && frac.is_empty()) {
        return Err(Reason::MissingNumber);
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| Reason::TooLarge)?
    };
    let mut ns = whole.checked_mul(unit_ns).ok_or(Reason::TooLarge)?;
    // The fraction is scaled digit by digit so that no float ever touches time.
    let mut scale = unit_ns;
    for digit in frac.bytes() {
        let d = u64::from(digit - b'0');
        if !scale.is_multiple_of(10) {
            if d != 0 {
                return Err(Reason::TooPrecise);
            }
            continue;
        }
        scale /= 10;
        ns = ns.checked_add(d * scale).ok_or(Reason::TooLarge)?;
    }
    Ok(ns)
}

/// Why a duration text could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseDurationError {
    pub text: String,
    pub reason: Reason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    Negative,
    MissingUnit,
    MissingNumber,
    UnknownUnit(String),
    TooLarge,
    TooPrecise,
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.text;
        match &self.reason {
            Reason::Negative => write!(f, "duration `{text}` is negative"),
            Reason::MissingUnit => write!(
                f,
                "duration `{text}` has no unit; write it like `250ms`, `1.5s`, `2m` or `1h`"
            ),
            Reason::MissingNumber => write!(f, "duration `{text}` does not start with a number"),
            Reason::UnknownUnit(u) => write!(
                f,
                "duration `{text}` has unknown unit `{u}`; expected one of `ns`, `us`, `ms`, `s`, `m`, `h`, `d`"
            ),
            Reason::TooLarge => write!(f, "duration `{text}` is too large (the limit is 584 years)"),
            Reason::TooPrecise => write!(f, "duration `{text}` is finer than one nanosecond"),
        }
    }
}

impl std::error::Error for ParseDurationError {}

impl fmt::Display for SimDuration {
    /// Prints the largest unit that keeps the value exact, with up to three decimals:
    /// `250ms`, `1.5s`, `2m`, `1h`, `1234ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        const UNITS: [(u64, &str); 7] = [
            (NS_PER_D, "d"),
            (NS_PER_H, "h"),
            (NS_PER_MIN, "m"),
            (NS_PER_S, "s"),
            (NS_PER_MS, "ms"),
            (NS_PER_US, "us"),
            (1, "ns"),
        ];
        for (unit_ns, name) in UNITS {
            if ns < unit_ns {
                continue;
            }
            let whole = ns / unit_ns;
            let rest = ns % unit_ns;
            if rest == 0 {
                return write!(f, "{whole}{name}");
            }
            // Show up to three decimals when they are exact; otherwise try a smaller unit.
            if unit_ns >= 1000 && rest.is_multiple_of(unit_ns / 1000) {
                let milli = rest / (unit_ns / 1000);
                let frac = format!("{milli:03}");
                return write!(f, "{whole}.{}{name}", frac.trim_end_matches('0'));
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_units() {
        let cases = [
            ("250us", 250_000),
            ("250µs", 250_000),
            ("1.5s", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("1h", 3_600_000_000_000),
            ("20ns", 20),
            ("0", 0),
            ("0s", 0),
            ("1_000ms", 1_000_000_000),
            (".5ms", 500_000),
            ("1.25ms", 1_250_000),
            ("1d", 86_400_000_000_000),
            ("2m30s", 150_000_000_000),
            ("1h15m", 4_500_000_000_000),
            ("1s500ms", 1_500_000_000),
        ];
        for (text, ns) in cases {
            assert_eq!(
                SimDuration::parse(text),
                Ok(SimDuration::from_ns(ns)),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations_name_the_text() {
        for text in [
            "250",
            "5 parsecs",
            "ms",
            "1.2.3s",
            "99999999999999999999h",
            "1.5ns",
            "",
        ] {
            let e = SimDuration::parse(text).unwrap_err();
            assert!(e.to_string().contains(&format!("`{text}`")), "{e}");
        }
        let e = SimDuration::parse("3sec").unwrap_err();
        assert_eq!(e.reason, Reason::UnknownUnit("sec".into()));
    }

    #[test]
    fn prints_round_trip() {
        for text in ["250ms", "1.5s", "2m", "1h", "20us", "7ns", "1.001s", "1d"] {
            let d = SimDuration::parse(text).unwrap();
            assert_eq!(d.to_string(), text);
            assert_eq!(SimDuration::parse(&d.to_string()), Ok(d));
        }
        assert_eq!(SimDuration::from_ns(1_234_567).to_string(), "1234.567us");
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(SimTime::MAX.after(SimDuration::from_secs(1)), SimTime::MAX);
        assert_eq!(SimTime::ZERO.since(SimTime::from_ns(5)), SimDuration::ZERO);
    }
}
