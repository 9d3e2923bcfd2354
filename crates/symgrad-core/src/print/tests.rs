//! Tests of the printers.
