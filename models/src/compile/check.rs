//! What every check shares: [`At`], a place in the scenario, and [`Checker`], which collects
//! problems with their line, column and field path, and holds the checks several parts make
//! (fractions, factors, start times, distributions, unknown names).

use crate::dist::{self, Dist};
use crate::error::{closest, one_of, Problem, ScenarioError, ScenarioWarnings};
use crate::format::reader::{Seg, SourceMap};
use crate::spec::{DistSpec, Dur, Scenario};
use sim_core::SimDuration;

/// Unknown names are followed by the list of known ones when there are at most this many.
const LIST_NAMES_MAX: usize = 12;

/// A place in the scenario: the path shown to the user and the structural path that finds its
/// text.
#[derive(Clone, Debug, Default)]
pub(super) struct At {
    pub(super) shown: String,
    segs: Vec<Seg>,
}

impl At {
    pub(super) fn root() -> At {
        At::default()
    }

    pub(super) fn field(&self, name: &str) -> At {
        let mut segs = self.segs.clone();
        segs.push(Seg::Field(name.to_string()));
        let shown = if self.shown.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.shown)
        };
        At { shown, segs }
    }

    pub(super) fn index(&self, i: usize) -> At {
        let mut segs = self.segs.clone();
        segs.push(Seg::Index(i));
        At {
            shown: format!("{}[{i}]", self.shown),
            segs,
        }
    }

    /// Element `i` of a list whose elements have names (`services.frontend`).
    pub(super) fn named(&self, i: usize, name: &str) -> At {
        if name.trim().is_empty()
            || name.len() > 64
            || name.contains(['.', '[', '`', '\\', '\n', '\r'])
        {
            return self.index(i);
        }
        let mut at = self.field(name);
        at.segs.pop();
        at.segs.push(Seg::Index(i));
        at
    }
}

/// Collects problems with their locations: errors, which refuse the file, and warnings (settings
/// that cannot take effect where they are written), which do not.
pub(super) struct Checker<'a> {
    map: Option<SourceMap<'a>>,
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
}

impl<'a> Checker<'a> {
    /// A checker that locates problems in `source`, when the text is at hand.
    pub(super) fn new(source: Option<&'a str>) -> Checker<'a> {
        Checker {
            map: source.map(SourceMap::new),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The problems found, in the order of the file; those without a position last, in the order
    /// found.
    pub(super) fn into_error(self, file: &str) -> ScenarioError {
        let mut problems = self.problems;
        problems.sort_by_key(|p| p.position.unwrap_or((usize::MAX, usize::MAX)));
        ScenarioError {
            file: file.to_string(),
            problems,
        }
    }

    /// The warnings found, in the order of the file.
    pub(super) fn take_warnings(&mut self, file: &str) -> ScenarioWarnings {
        let mut problems = std::mem::take(&mut self.warnings);
        problems.sort_by_key(|p| p.position.unwrap_or((usize::MAX, usize::MAX)));
        ScenarioWarnings {
            file: file.to_string(),
            problems,
        }
    }

    /// Whether the file spells out the value at `at` (rather than leaving it to its default).
    pub(super) fn written(&self, at: &At) -> bool {
        self.exact_position(at).is_some()
    }

    /// Reports a setting that cannot take effect where it is written: the file still loads.
    pub(super) fn warn(&mut self, at: &At, message: String) {
        let position = self.position(at);
        self.report_at(at, position, message, None);
        let warning = self.problems.pop().expect("just reported");
        self.warnings.push(warning);
    }

    /// The 1-based line and column of the text at `at`, or of the nearest enclosing value that the
    /// file spells out.
    pub(super) fn position(&self, at: &At) -> Option<(usize, usize)> {
        let map = self.map.as_ref()?;
        map.find(&at.segs).map(|o| map.position(o))
    }

    /// The position of `at` only if the file spells it out.
    pub(super) fn exact_position(&self, at: &At) -> Option<(usize, usize)> {
        let map = self.map.as_ref()?;
        map.find_exact(&at.segs).map(|o| map.position(o))
    }

    /// `what` `name` (a service, a region...) is defined again at `again` after `first`: the
    /// problem is at the second name, and says the lines of both (`` service `a` is defined twice
    /// (lines 3 and 9) ``); `within` follows the name (`` in region `eu` ``).
    pub(super) fn defined_twice(
        &mut self,
        what: &str,
        name: &str,
        within: &str,
        first: &At,
        again: &At,
    ) {
        let line = |at: &At| {
            self.position(&at.field("name"))
                .or_else(|| self.position(at))
        };
        let lines = match (line(first), line(again)) {
            (Some((a, _)), Some((b, _))) if a != b => format!(" (lines {a} and {b})"),
            (Some((a, _)), Some(_)) => format!(" (both on line {a})"),
            _ => String::new(),
        };
        let message = format!("{what} `{name}` is defined twice{within}{lines}");
        self.report(&again.field("name"), message, None);
    }

    pub(super) fn report(&mut self, at: &At, message: String, suggestion: Option<String>) {
        let position = self.position(at);
        self.report_at(at, position, message, suggestion);
    }

    pub(super) fn report_at(
        &mut self,
        at: &At,
        position: Option<(usize, usize)>,
        message: String,
        suggestion: Option<String>,
    ) {
        // One problem, one line: names quoted in a message may hold escaped line breaks.
        let one_line = |s: String| s.replace('\r', "").replace('\n', "\\n");
        self.problems.push(Problem {
            position,
            path: Some(at.shown.clone()).filter(|p| !p.is_empty()),
            message: one_line(message),
            suggestion: suggestion.map(one_line),
        });
    }

    /// Reports an unknown name: a suggestion when one is close, else the known names when few.
    pub(super) fn unknown(&mut self, at: &At, what: &str, name: &str, known: &[&str]) {
        let suggestion = closest(name, known.iter().copied());
        let message = if suggestion.is_some() || known.is_empty() {
            format!("unknown {what} `{name}`")
        } else if known.len() <= LIST_NAMES_MAX {
            format!("unknown {what} `{name}`; expected {}", one_of(known))
        } else {
            format!("unknown {what} `{name}`")
        };
        self.report(at, message, suggestion);
    }

    /// The compiled distribution, or a constant zero after reporting what is wrong with it.
    pub(super) fn dist(&mut self, at: &At, spec: &DistSpec) -> Dist {
        match dist::check(spec) {
            Some(msg) => {
                self.report(at, msg, None);
                Dist::Constant(SimDuration::ZERO)
            }
            None => Dist::new(spec).unwrap_or(Dist::Constant(SimDuration::ZERO)),
        }
    }

    /// Reports `r` unless it is a fraction between 0 and 1; `what` names it (`an error rate`).
    pub(super) fn fraction(&mut self, at: &At, what: &str, r: f64) {
        if !(0.0..=1.0).contains(&r) {
            self.report(
                at,
                format!("{what} is a fraction between 0 and 1, not `{r}`"),
                None,
            );
        }
    }

    /// Reports a factor that is not a finite number above zero.
    pub(super) fn factor(&mut self, at: &At, f: f64) {
        if !(f > 0.0 && f.is_finite()) {
            self.report(at, format!("a factor must be above zero, not `{f}`"), None);
        }
    }

    /// Reports `at.at` when it is not before the horizon.
    pub(super) fn starts_in_time(&mut self, at: &At, what: &str, start: Dur, spec: &Scenario) {
        if start >= spec.horizon {
            self.report(
                &at.field("at"),
                format!(
                    "{what} starts at {}, after the horizon ({})",
                    start.0, spec.horizon.0
                ),
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_like_the_file() {
        let at = At::root()
            .field("services")
            .named(2, "db")
            .field("calls")
            .index(0);
        assert_eq!(at.shown, "services.db.calls[0]");
        assert_eq!(
            at.segs,
            vec![
                Seg::Field("services".into()),
                Seg::Index(2),
                Seg::Field("calls".into()),
                Seg::Index(0)
            ]
        );
    }
}
