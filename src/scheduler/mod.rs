//! Priority + deadline executor for all engine work, with per-class latency histograms.
