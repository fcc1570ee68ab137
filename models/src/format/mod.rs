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

/// Reads a scenario file's text, with a message in our style when it cannot: no such file, a
/// directory, not text.
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
    if path.is_dir() {
        return Err(unreadable(
            "this is a directory; expected a scenario file (`.ron`)".into(),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| {
        unreadable(match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".into(),
            std::io::ErrorKind::PermissionDenied => {
                "cannot read the file: permission denied".into()
            }
            std::io::ErrorKind::InvalidData => {
                "the file is not text (it is not valid UTF-8); expected a RON scenario".into()
            }
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
