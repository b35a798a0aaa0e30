//! Read models (projections).
