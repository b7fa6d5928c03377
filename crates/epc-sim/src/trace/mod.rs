//! Page-reference traces (being built).
