//! The EPC manager (work in progress).
