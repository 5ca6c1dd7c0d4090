//! Temporal logic: LTLf formulas over stream fields, parsed and monitored online.
