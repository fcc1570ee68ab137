//! A scenario as a command receives it: the text of a file, or of standard input (`-`), with the
//! command line's overrides (`--set PATH=VALUE`, `--horizon`, `--warmup`) applied to the text as
//! a variant's `set` is applied ([`models::patch`]), so that they take the same paths and the
//! same values and are checked by the same loader.

use crate::{Error, LoadedStudy};
use models::error::Problem;
use models::ScenarioError;
use std::path::Path;

/// What messages call a scenario read from standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// One change the command line makes to the scenario: its path, its value as RON text, and how
/// the user wrote it (`--set services.db.workers=8`, `--horizon 5m`), for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub path: String,
    pub value: String,
    pub shown: String,
}

impl Override {
    /// `--set PATH=VALUE`: the value is RON text (`8`, `"5m"`, `Exponential(mean: "2ms")`).
    pub fn parse_set(text: &str) -> Result<Override, String> {
        let Some((path, value)) = text.split_once('=') else {
            return Err(format!(
                "`{text}` is not PATH=VALUE (for example `services.db.workers=8`)"
            ));
        };
        let (path, value) = (path.trim(), value.trim());
        if path.is_empty() || value.is_empty() {
            return Err(format!(
                "`{text}` is not PATH=VALUE (for example `services.db.workers=8`)"
            ));
        }
        Ok(Override {
            path: path.to_string(),
            value: value.to_string(),
            shown: format!("--set {text}"),
        })
    }

    /// A duration field at the top of the scenario (`--horizon 5m`): the value is quoted for RON.
    pub fn duration(flag: &str, field: &str, text: &str) -> Result<Override, Error> {
        sim_core::SimDuration::parse(text)
            .map_err(|e| Error::Usage(format!("--{flag} `{text}`: {e}")))?;
        Ok(Override {
            path: field.to_string(),
            value: format!("{text:?}"),
            shown: format!("--{flag} {text}"),
        })
    }
}

/// A scenario's text, read once, with the overrides applied.
#[derive(Clone, Debug)]
pub struct Input {
    /// What messages call it: the path as given, or [`STDIN_NAME`].
    pub name: String,
    /// The text to load: the file's, with the overrides applied.
    pub source: String,
    /// The file's own text, when overrides changed it: its problems are the file's.
    original: Option<String>,
    /// The overrides as the user wrote them, for messages.
    shown: Vec<String>,
}

impl Input {
    /// Reads the scenario at `path`, or standard input when `path` is `-`.
    pub fn read(path: &Path) -> Result<Input, Error> {
        let (name, source) = if path.as_os_str() == "-" {
            (STDIN_NAME.to_string(), read_stdin()?)
        } else {
            let source = models::validate::read_source(path)?;
            (path.display().to_string(), source)
        };
        Ok(Input {
            name,
            source,
            original: None,
            shown: Vec::new(),
        })
    }

    /// The scenario as given in memory (`name` is what messages call it).
    pub fn from_text(name: &str, source: &str) -> Input {
        Input {
            name: name.to_string(),
            source: source.to_string(),
            original: None,
            shown: Vec::new(),
        }
    }

    /// The scenario with `overrides` applied to its text. Text that does not read as RON is left
    /// alone: loading it reports where it breaks.
    pub fn with_overrides(mut self, overrides: &[Override]) -> Result<Input, Error> {
        if overrides.is_empty() {
            return Ok(self);
        }
        for o in overrides {
            models::patch::parse(&o.value).map_err(|e| {
                Error::Usage(format!(
                    "{}: the value is not RON text ({e}); a string is quoted: --set 'horizon=\"5m\"'",
                    o.shown
                ))
            })?;
        }
        let Ok(root) = models::patch::parse(&self.source) else {
            return Ok(self);
        };
        let set: Vec<(String, String)> = overrides
            .iter()
            .map(|o| (o.path.clone(), o.value.clone()))
            .collect();
        let edited = models::patch::apply(&self.source, &root, &set, &[]).map_err(|e| {
            let shown = e
                .path
                .as_ref()
                .and_then(|p| overrides.iter().find(|o| &o.path == p))
                .map_or("--set".to_string(), |o| o.shown.clone());
            Error::Usage(format!("{}: {shown}: {}", self.name, e.message))
        })?;
        self.original = Some(std::mem::replace(&mut self.source, edited));
        self.shown = overrides.iter().map(|o| o.shown.clone()).collect();
        Ok(self)
    }

    /// Loads the scenario with its variants and expectations; its warnings go to stderr.
    pub fn load(&self) -> Result<LoadedStudy, Error> {
        match models::variants::load_study(&self.name, &self.source) {
            Ok(study) => {
                crate::print_warnings(&study.warnings);
                Ok(LoadedStudy {
                    study,
                    source: self.source.clone(),
                })
            }
            Err(e) => Err(self.blame(e).into()),
        }
    }

    /// The problems of the text as loaded, said of the file when the file has them, or of the
    /// overrides (without line and column, which would point into the edited text) when the
    /// file alone loads.
    fn blame(&self, e: ScenarioError) -> ScenarioError {
        let Some(original) = &self.original else {
            return e;
        };
        if let Err(own) = models::variants::load_study(&self.name, original) {
            return own;
        }
        let with = self.shown.join(", ");
        ScenarioError {
            file: e.file,
            problems: e
                .problems
                .into_iter()
                .map(|p| Problem {
                    position: None,
                    message: format!("{} (with {with})", p.message),
                    ..p
                })
                .collect(),
        }
    }
}

/// Standard input as scenario text: at most as much as a file may hold, and text.
fn read_stdin() -> Result<String, Error> {
    use std::io::Read;
    let max = models::format::SOURCE_BYTES_MAX;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Io(format!("{STDIN_NAME}: cannot read standard input: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(Error::Usage(format!(
            "{STDIN_NAME}: more than a scenario may be (at most {max} bytes, 16 MiB)"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::Usage(format!(
            "{STDIN_NAME}: the input is not text (it is not valid UTF-8); expected a RON scenario"
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // JSON on standard input is known by its first character (`{`; RON starts `Scenario(`).
    match models::format::json::looks_like_json(text) {
        true => Ok(models::format::json::to_ron(STDIN_NAME, text)?),
        false => Ok(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_reads_path_equals_value() {
        let o = Override::parse_set("services[1].workers=8").unwrap();
        assert_eq!(
            (o.path.as_str(), o.value.as_str()),
            ("services[1].workers", "8")
        );
        let o = Override::parse_set(r#"services.db.work=Exponential(mean: "2ms")"#).unwrap();
        assert_eq!(o.value, r#"Exponential(mean: "2ms")"#);
        assert!(Override::parse_set("workers").is_err());
        assert!(Override::parse_set("=8").is_err());
        let h = Override::duration("horizon", "horizon", "5m").unwrap();
        assert_eq!(h.value, "\"5m\"");
        assert!(Override::duration("horizon", "horizon", "5 parsecs").is_err());
    }
}
