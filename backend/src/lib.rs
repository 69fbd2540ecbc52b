//! Partner registry backend.
