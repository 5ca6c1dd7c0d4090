//! Trace file format: writer, reader, recovery.
