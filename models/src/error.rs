//! Errors in scenario files: where (file, line and column, or field path), what was expected, and a
//! suggestion when a name is close to a known one. Every problem found is reported, not just the
//! first.

use std::fmt;

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// Field path such as `services.frontend.calls[0].to`, when known.
    pub path: Option<String>,
    pub message: String,
    /// A name close to the unknown one, for "did you mean".
    pub suggestion: Option<String>,
}

/// Every problem found in one scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some((line, col)) = p.position {
                write!(f, ":{line}:{col}")?;
            }
            write!(f, ": error")?;
            if let Some(path) = &p.path {
                write!(f, " in `{path}`")?;
            }
            write!(f, ": {}", p.message)?;
            if let Some(s) = &p.suggestion {
                write!(f, "; did you mean `{s}`?")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The known name closest to `unknown`, if it is close enough to be a likely typo.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for k in known {
        let score = strsim::jaro_winkler(unknown, k);
        // Ties keep the first name, so suggestions never depend on iteration accidents.
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, k));
        }
    }
    best.map(|(_, k)| k.to_string())
}

/// The 1-based line and column of `needle` in `source`, searching from the first occurrence of
/// `anchor` (if given and found) onwards. Used to point semantic errors at the text that caused
/// them.
pub fn locate(source: &str, anchor: Option<&str>, needle: &str) -> Option<(usize, usize)> {
    let start = anchor.and_then(|a| source.find(a)).unwrap_or(0);
    let offset = start + source[start..].find(needle)?;
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["catalog", "cart", "frontend"];
        assert_eq!(closest("catalgo", known), Some("catalog".into()));
        assert_eq!(closest("fronted", known), Some("frontend".into()));
        assert_eq!(closest("zebra", known), None);
    }

    #[test]
    fn locates_after_anchor() {
        let src = "a: \"x\",\nname: \"svc\",\n  to: \"x\"";
        assert_eq!(locate(src, None, "\"x\""), Some((1, 4)));
        assert_eq!(locate(src, Some("\"svc\""), "\"x\""), Some((3, 7)));
    }
}
