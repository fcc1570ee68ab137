//! Errors in scenario files: where (file, line and column, or field path), what was expected, and a
//! suggestion when a name is close to a known one. Every problem found is reported, not just the
//! first.
//!
//! The place is found by [`crate::format::reader::SourceMap`], which knows where every value of
//! the text starts.

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
        write_problems(f, &self.file, &self.problems, "error")
    }
}

/// Settings of one scenario file that cannot take effect where they are written: the file loads
/// and runs, and every command that loads it prints these to stderr.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScenarioWarnings {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl ScenarioWarnings {
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for ScenarioWarnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, &self.file, &self.problems, "warning")
    }
}

/// One line per problem: `file:line:column: error in `path`: message; did you mean `x`?`.
fn write_problems(
    f: &mut fmt::Formatter<'_>,
    file: &str,
    problems: &[Problem],
    severity: &str,
) -> fmt::Result {
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        write!(f, "{file}")?;
        if let Some((line, col)) = p.position {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": {severity}")?;
        if let Some(path) = &p.path {
            write!(f, " in `{}`", shown(path))?;
        }
        write!(f, ": {}", shown_message(&p.message))?;
        if let Some(s) = &p.suggestion {
            write!(f, "; did you mean `{}`?", shown(s))?;
        }
    }
    Ok(())
}

impl std::error::Error for ScenarioError {}

/// Most characters of a value quoted in a message; a longer one is cut, with `…` after it.
pub const QUOTED_CHARS_MAX: usize = 80;

/// Whether `c` would not be seen, or would change how the text around it reads: control
/// characters, a byte-order mark, zero-width and bidirectional formatting characters.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

/// Text quoted from a scenario as a message shows it: invisible characters escaped (`\0`, `\t`,
/// `\n`, `\u{feff}` for a byte-order mark), and at most `QUOTED_CHARS_MAX` characters.
pub fn shown(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == QUOTED_CHARS_MAX {
            out.push('…');
            break;
        }
        match c {
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if invisible(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A message with each part in backticks shown as `shown` shows it; the words around them are
/// the program's own and left alone.
pub fn shown_message(message: &str) -> String {
    let parts: Vec<&str> = message.split('`').collect();
    let shown_parts: Vec<String> = (parts.iter().enumerate())
        .map(|(i, part)| {
            // Odd parts are inside backticks, when the last one is closed.
            let quoted = i % 2 == 1 && i + 1 < parts.len();
            if quoted {
                shown(part)
            } else {
                part.to_string()
            }
        })
        .collect();
    shown_parts.join("`")
}

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

/// Names as a message lists them: `` `a` ``, `` `a` or `b` ``, `` `a`, `b` or `c` ``.
pub fn one_of<S: AsRef<str>>(names: &[S]) -> String {
    // A name given twice in the file is listed once.
    let mut quoted: Vec<String> = Vec::new();
    for n in names {
        let q = format!("`{}`", n.as_ref());
        if !quoted.contains(&q) {
            quoted.push(q);
        }
    }
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
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
    fn lists_names_in_prose() {
        assert_eq!(one_of::<&str>(&[]), "");
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b"]), "`a` or `b`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(one_of(&["a", "a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "a"]), "`a` or `b`");
    }

    #[test]
    fn quoted_text_is_shown_escaped_and_short() {
        assert_eq!(shown("\u{feff}Scenario"), "\\u{feff}Scenario");
        assert_eq!(shown("a\0b\tc\u{200b}"), "a\\0b\\tc\\u{200b}");
        let long = "x".repeat(70_000);
        assert_eq!(shown(&long), format!("{}…", "x".repeat(QUOTED_CHARS_MAX)));
        assert_eq!(
            shown_message("unknown field `a\0`, expected `b` or `c`"),
            "unknown field `a\\0`, expected `b` or `c`"
        );
        assert_eq!(shown_message("a lone ` stays"), "a lone ` stays");
    }
}
