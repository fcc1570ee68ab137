//! Scenario loading: the file format ([`spec`]), the one RON reader with spans ([`reader`]),
//! which both error positions and variant patches use, and variants as patches on the text
//! ([`patch`]).
//!
//! **Architecture invariant:** nothing here knows of a [`crate::world::World`]; meaning is checked
//! and compiled elsewhere.

pub mod patch;
pub mod reader;
pub mod spec;
