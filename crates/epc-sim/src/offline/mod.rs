//! The offline policy simulator (being built).
