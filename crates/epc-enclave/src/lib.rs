//! Not yet built: see the project issues. This crate exists so that the workspace layout is in place.
