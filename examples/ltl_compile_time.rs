//! Compile time of LTL formulas that grow: chains of `W`, `U`, `R` and nested `G F`.
//!
//!     cargo run --release --example ltl_compile_time -- [MAX_OPERATORS]
//!
//! Prints, per family and size, the compile time, the states and decision nodes, or the
//! error that stopped the compilation.

use std::time::Instant;

use midstream::engines::ltl::{compile, parse};

fn chain(op: &str, n: usize) -> String {
    let mut text = String::from("X p0");
    for i in 1..=n {
        text.push_str(&format!(" {op} p{i}"));
    }
    text
}

fn nested_gf(n: usize) -> String {
    let mut text = String::from("q");
    for i in 0..n {
        text = format!("G(p{i} -> F({text}))");
    }
    text
}

/// A family of formulas: its name, and the formula of size `n`.
type Family = (&'static str, fn(usize) -> String);

fn main() {
    let max: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let families: [Family; 4] = [
        ("W chain", |n| chain("W", n)),
        ("U chain", |n| chain("U", n)),
        ("R chain", |n| chain("R", n)),
        ("nested G F", nested_gf),
    ];
    for (family, make) in families {
        for n in (2..=max).step_by(2) {
            let text = make(n);
            let formula = parse(&text).expect("the generated formulas parse");
            let started = Instant::now();
            let result = compile(&formula);
            let took = started.elapsed();
            match result {
                Ok(automaton) => println!(
                    "{family:<11} n={n:<3} {:>10.3} ms  {} states, {} decisions",
                    took.as_secs_f64() * 1e3,
                    automaton.state_count(),
                    automaton.decision_count()
                ),
                Err(e) => println!(
                    "{family:<11} n={n:<3} {:>10.3} ms  refused: {e}",
                    took.as_secs_f64() * 1e3
                ),
            }
            if took.as_secs_f64() > 5.0 {
                break;
            }
        }
    }
}
