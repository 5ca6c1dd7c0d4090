//! Meta-learning: motif discovery and self-tuning of the analysis.
