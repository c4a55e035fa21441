//! Faults placeholder: filled in once the happy path runs.
