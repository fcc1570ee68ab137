//! Numbers, percentages and durations as text, the same in every report: the terminal tables,
//! Markdown, HTML, the verdicts and the incident timeline.
//!
//! **Architecture invariant:** a leaf. It uses nothing else of this crate, so every other module
//! may use it.

/// A duration in nanoseconds in a short human form with three significant digits.
pub fn fmt_ns(ns: f64) -> String {
    let (value, unit) = if ns >= 60e9 {
        (ns / 60e9, "m")
    } else if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "us")
    } else {
        (ns, "ns")
    };
    if value >= 100.0 {
        format!("{value:.0}{unit}")
    } else if value >= 10.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.2}{unit}")
    }
}

/// Bytes in a short human form: `1.23 TB`, `4.56 GB`, `7.8 MB`, `9.1 kB`, `512 B`.
pub fn fmt_bytes(b: f64) -> String {
    match b {
        _ if b >= 1e12 => format!("{:.2} TB", b / 1e12),
        _ if b >= 1e9 => format!("{:.2} GB", b / 1e9),
        _ if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        _ if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        _ => format!("{b:.0} B"),
    }
}

/// `0.95` as `95`, `0.999` as `99.9`.
pub fn trim_pct(p: f64) -> String {
    let s = format!("{:.3}", p * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `x` with a sign and `decimals` decimals, never `-0.0`: a value that rounds to zero is `+0.0`.
pub fn signed(x: f64, decimals: usize) -> String {
    let text = format!("{x:+.decimals$}");
    if text[1..].chars().all(|c| c == '0' || c == '.') {
        format!("+{}", &text[1..])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_ns(250.0), "250ns");
        assert_eq!(fmt_ns(1_500.0), "1.50us");
        assert_eq!(fmt_ns(27_777_780.0), "27.8ms");
        assert_eq!(fmt_ns(1.5e9), "1.50s");
        assert_eq!(fmt_ns(120e9), "2.00m");
    }

    #[test]
    fn percent_text() {
        assert_eq!(trim_pct(0.95), "95");
        assert_eq!(trim_pct(0.999), "99.9");
        assert_eq!(trim_pct(1.0), "100");
    }
}
