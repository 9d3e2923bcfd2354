//! Tests of simplification.
