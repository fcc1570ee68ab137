//! Scenario loading: the file format ([`spec`]).
//!
//! **Architecture invariant:** nothing here knows of a [`crate::world::World`]; meaning is checked
//! and compiled elsewhere.

pub mod spec;
