//! Attractor analysis: delay embedding, Lyapunov exponent, correlation dimension, classes.
