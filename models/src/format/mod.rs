//! Scenario loading: the file format ([`spec`]), the one RON reader with spans ([`reader`]),
//! which both error positions and variant patches use, ron's errors in our words, and variants as
//! patches on the text ([`patch`], [`variants`]). [`read_source`] and [`parse`] take a file to a
//! [`Scenario`], checking its shape only.
//!
//! **Architecture invariant:** nothing here knows of a [`crate::world::World`]; meaning is checked
//! and compiled in [`crate::compile`].

pub mod names;
pub mod patch;
pub mod reader;
pub mod spec;
mod translate;
pub mod variants;

use crate::error::{Problem, ScenarioError};
use reader::SourceMap;
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
    read_bounded(path).map_err(|e| {
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
    })
}

/// Parses RON into the spec types, checking shape only.
pub fn parse(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    options
        .from_str::<Scenario>(source)
        .map_err(|e| ScenarioError {
            file: file.to_string(),
            problems: vec![ron_problem(&e, &SourceMap::new(source))],
        })
}
