//! Scenario loading: the file format ([`spec`]), the one RON reader with spans ([`reader`]),
//! which both error positions and variant patches use, ron's errors in our words, and variants as
//! patches on the text ([`patch`], [`variants`]). [`read_source`] and [`parse`] take a file to a
//! [`Scenario`], checking its shape only; a `.json` file is read as the RON text it stands for
//! ([`json`], which also generates the format's JSON Schema).
//!
//! **Architecture invariant:** nothing here knows of a [`crate::world::World`]; meaning is checked
//! and compiled in [`crate::compile`].

pub mod json;
pub mod names;
pub mod patch;
pub mod reader;
pub mod spec;
mod translate;
pub mod variants;

use crate::error::{Problem, ScenarioError};
use reader::{SourceMap, Span};
use spec::Scenario;
use std::path::Path;
use translate::{lowercase_first, ron_problem};

/// The largest scenario file Faultline reads, in bytes (16 MiB).
pub const SOURCE_BYTES_MAX: u64 = 16 << 20;

fn too_big(bytes: u64) -> String {
    format!(
        "the file is {bytes} bytes, more than a scenario may be (at most {SOURCE_BYTES_MAX} bytes, 16 MiB)"
    )
}

/// Reads at most [`SOURCE_BYTES_MAX`] bytes of text (the file may grow after its size was read),
/// without a leading UTF-8 byte-order mark.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(SOURCE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > SOURCE_BYTES_MAX {
        return Err(std::io::ErrorKind::FileTooLarge.into());
    }
    let text = String::from_utf8(bytes).map_err(|_| std::io::ErrorKind::InvalidData)?;
    // A byte-order mark (some editors on Windows write one) is no part of the scenario.
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Reads a scenario file's text, with a message in our style when it cannot: no such file, a
/// directory or another file that is not regular, more than 16 MiB, not text.
pub fn read_source(path: &Path) -> Result<String, ScenarioError> {
    let unreadable = |message: String| ScenarioError {
        file: path.display().to_string(),
        problems: vec![Problem {
            position: None,
            path: None,
            message,
            suggestion: None,
        }],
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(unreadable(
                "this is a directory; expected a scenario file (`.ron`)".into(),
            ))
        }
        // A FIFO would block forever, a device may never end: only regular files are read.
        Ok(m) if !m.is_file() => {
            return Err(unreadable(
                "this is not a regular file (a pipe, device or socket); expected a scenario file (`.ron`)".into(),
            ))
        }
        Ok(m) if m.len() > SOURCE_BYTES_MAX => return Err(unreadable(too_big(m.len()))),
        _ => {}
    }
    let text = read_bounded(path).map_err(|e| {
        unreadable(match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".into(),
            std::io::ErrorKind::PermissionDenied => {
                "cannot read the file: permission denied".into()
            }
            std::io::ErrorKind::InvalidData => {
                "the file is not text (it is not valid UTF-8); expected a RON scenario".into()
            }
            std::io::ErrorKind::FileTooLarge => too_big(SOURCE_BYTES_MAX + 1),
            _ => format!("cannot read the file: {}", lowercase_first(&e.to_string())),
        })
    })?;
    // A JSON scenario is read as the RON text it stands for, line for line (`json`).
    match json::is_json_path(path) {
        true => json::to_ron(&path.display().to_string(), &text),
        false => Ok(text),
    }
}

/// Most problems `parse` reports for one file.
pub const PARSE_PROBLEMS_MAX: usize = 20;

fn parse_once(source: &str) -> Result<Scenario, ron::error::SpannedError> {
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    options.from_str::<Scenario>(source)
}

/// Whether parsing can go on past `code` by setting the field where it is aside: a field
/// unknown or given twice, or a value of the wrong kind (not broken text, whose structure after
/// the error is not known).
fn field_aside(code: &ron::error::Error) -> bool {
    use ron::error::Error as E;
    matches!(
        code,
        E::NoSuchStructField { .. }
            | E::DuplicateStructField { .. }
            | E::NoSuchEnumVariant { .. }
            | E::InvalidValueForType { .. }
            | E::ExpectedInteger
            | E::IntegerOutOfBounds
            | E::ExpectedFloat
            | E::ExpectedString
            | E::ExpectedBoolean
            | E::Message(_)
    )
}

/// `text` with the field around ron's error (and a comma after it) turned into spaces, line
/// breaks kept, so that every later position is unchanged; `None` when no field is there.
fn without_field(text: &str, e: &ron::error::SpannedError) -> Option<(String, Span)> {
    let map = SourceMap::new(text);
    let span = map.field_at(map.offset(e.span.start.line, e.span.start.col))?;
    text.get(span.start..span.end)?;
    let rest = &text[span.end..];
    let gap = rest.len() - rest.trim_start().len();
    let end = match rest.trim_start().starts_with(',') {
        true => span.end + gap + 1,
        false => span.end,
    };
    let blank: String = (text[span.start..end].chars())
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    let aside = Span {
        start: span.start,
        end,
    };
    Some((
        format!("{}{blank}{}", &text[..span.start], &text[end..]),
        aside,
    ))
}

/// Parses RON into the spec types, checking shape only. Every problem that can be found is
/// reported (up to `PARSE_PROBLEMS_MAX`): after a field unknown, given twice or of the wrong kind,
/// the field is set aside and the text parsed again; broken text stops the search, and so does a
/// field found missing (it may be one set aside).
pub fn parse(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
    let mut e = match parse_once(source) {
        Ok(scenario) => return Ok(scenario),
        Err(e) => e,
    };
    let mut problems = vec![ron_problem(&e, &SourceMap::new(source))];
    let mut text = source.to_string();
    while problems.len() < PARSE_PROBLEMS_MAX && field_aside(&e.code) {
        let Some((next_text, aside)) = without_field(&text, &e) else {
            break;
        };
        text = next_text;
        let Err(next) = parse_once(&text) else {
            break;
        };
        // A problem the setting aside may have made is not reported, and ends the search: text
        // broken where the field was, or a field found missing (perhaps the one set aside).
        let map = SourceMap::new(&text);
        let at = map.offset(next.span.start.line, next.span.start.col);
        let made = (aside.start..=aside.end).contains(&at)
            || matches!(next.code, ron::error::Error::MissingStructField { .. });
        if made || !field_aside(&next.code) {
            break;
        }
        problems.push(ron_problem(&next, &map));
        e = next;
    }
    Err(ScenarioError {
        file: file.to_string(),
        problems,
    })
}
