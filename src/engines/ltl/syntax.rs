//! The abstract syntax of LTLf formulas and a printer whose output parses back to the same tree.
//!
//! The printer writes the fewest parentheses the grammar of [`super::parser`] needs, so
//! `parse(&f.to_string()) == f` for every formula `f` (checked by a property test).

use std::fmt;
use std::hash::{Hash, Hasher};

/// An LTLf formula as written by the user (before any normalisation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Formula {
    True,
    False,
    Atom(Atom),
    Not(Box<Formula>),
    And(Box<Formula>, Box<Formula>),
    Or(Box<Formula>, Box<Formula>),
    Implies(Box<Formula>, Box<Formula>),
    Iff(Box<Formula>, Box<Formula>),
    /// `X a`: strong next, false at the last step.
    Next(Box<Formula>),
    /// `F a`: `a` holds at some remaining step.
    Eventually(Box<Formula>),
    /// `G a`: `a` holds at every remaining step.
    Always(Box<Formula>),
    /// `a U b`: `b` holds at some remaining step and `a` at every step before it.
    Until(Box<Formula>, Box<Formula>),
    /// `a R b`: `!(!a U !b)`.
    Release(Box<Formula>, Box<Formula>),
    /// `a W b`: `(a U b) | G a`.
    WeakUntil(Box<Formula>, Box<Formula>),
}

/// A proposition about one field of the state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Atom {
    pub field: String,
    pub test: AtomTest,
}

/// What an atom asks of its field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AtomTest {
    /// A bare field name: true when the field is `true` or a non-zero number.
    Truthy,
    /// `field op value`.
    Compare { op: CompareOp, value: Literal },
}

/// A comparison operator of an atom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    /// The operator as written in a formula.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped: `50 < x` is `x > 50`.
    pub fn swapped(self) -> CompareOp {
        match self {
            CompareOp::Eq => CompareOp::Eq,
            CompareOp::Ne => CompareOp::Ne,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
        }
    }

    /// Whether the operator orders its operands (only numbers can be ordered).
    pub fn is_ordering(self) -> bool {
        !matches!(self, CompareOp::Eq | CompareOp::Ne)
    }
}

/// The constant side of a comparison.
///
/// Numbers are finite and never negative zero (the parser folds `-0` into `0`), so equality and
/// hashing by bit pattern agree with numeric equality.
#[derive(Debug, Clone)]
pub enum Literal {
    Number(f64),
    Text(String),
    Bool(bool),
}

impl PartialEq for Literal {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Literal::Number(a), Literal::Number(b)) => a.to_bits() == b.to_bits(),
            (Literal::Text(a), Literal::Text(b)) => a == b,
            (Literal::Bool(a), Literal::Bool(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Literal {}

impl Hash for Literal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Literal::Number(x) => {
                0u8.hash(state);
                x.to_bits().hash(state);
            }
            Literal::Text(s) => {
                1u8.hash(state);
                s.hash(state);
            }
            Literal::Bool(b) => {
                2u8.hash(state);
                b.hash(state);
            }
        }
    }
}

/// Binding strength of an operator, loosest first; see the grammar in [`super::parser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Precedence {
    Iff,
    Implies,
    Or,
    And,
    Temporal,
    Unary,
    Primary,
}

impl Formula {
    /// Nesting depth: atoms and constants have depth 0, each operator adds one.
    pub fn depth(&self) -> usize {
        match self {
            Formula::True | Formula::False | Formula::Atom(_) => 0,
            Formula::Not(a) | Formula::Next(a) | Formula::Eventually(a) | Formula::Always(a) => {
                1 + a.depth()
            }
            Formula::And(a, b)
            | Formula::Or(a, b)
            | Formula::Implies(a, b)
            | Formula::Iff(a, b)
            | Formula::Until(a, b)
            | Formula::Release(a, b)
            | Formula::WeakUntil(a, b) => 1 + a.depth().max(b.depth()),
        }
    }

    /// Calls `visit` on every atom, left to right, repeats included.
    pub fn for_each_atom<'a>(&'a self, visit: &mut impl FnMut(&'a Atom)) {
        match self {
            Formula::True | Formula::False => {}
            Formula::Atom(atom) => visit(atom),
            Formula::Not(a) | Formula::Next(a) | Formula::Eventually(a) | Formula::Always(a) => {
                a.for_each_atom(visit)
            }
            Formula::And(a, b)
            | Formula::Or(a, b)
            | Formula::Implies(a, b)
            | Formula::Iff(a, b)
            | Formula::Until(a, b)
            | Formula::Release(a, b)
            | Formula::WeakUntil(a, b) => {
                a.for_each_atom(visit);
                b.for_each_atom(visit);
            }
        }
    }

    pub(crate) fn precedence(&self) -> Precedence {
        match self {
            Formula::True | Formula::False | Formula::Atom(_) => Precedence::Primary,
            Formula::Not(_) | Formula::Next(_) | Formula::Eventually(_) | Formula::Always(_) => {
                Precedence::Unary
            }
            Formula::Until(..) | Formula::Release(..) | Formula::WeakUntil(..) => {
                Precedence::Temporal
            }
            Formula::And(..) => Precedence::And,
            Formula::Or(..) => Precedence::Or,
            Formula::Implies(..) => Precedence::Implies,
            Formula::Iff(..) => Precedence::Iff,
        }
    }
}

impl Precedence {
    /// The next tighter level.
    pub(crate) fn tighter(self) -> Precedence {
        match self {
            Precedence::Iff => Precedence::Implies,
            Precedence::Implies => Precedence::Or,
            Precedence::Or => Precedence::And,
            Precedence::And => Precedence::Temporal,
            Precedence::Temporal => Precedence::Unary,
            Precedence::Unary | Precedence::Primary => Precedence::Primary,
        }
    }
}

/// Whether a binary operator of this precedence groups to the right (`a -> b -> c` is
/// `a -> (b -> c)`; `a U b U c` is `a U (b U c)`); the others group to the left.
pub(crate) fn is_right_associative(level: Precedence) -> bool {
    matches!(level, Precedence::Implies | Precedence::Temporal)
}

/// The words that cannot be field names without backticks.
pub const KEYWORDS: [&str; 8] = ["X", "F", "G", "U", "R", "W", "true", "false"];

/// Whether `name` can be written bare: an identifier (`[A-Za-z_][A-Za-z0-9_.]*`) that is not a
/// keyword.
pub fn is_plain_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !KEYWORDS.contains(&name)
}

/// Writes a field name, in backticks when it is not a plain identifier.
pub(crate) fn write_field_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if is_plain_field_name(name) {
        return f.write_str(name);
    }
    f.write_str("`")?;
    for c in name.chars() {
        match c {
            '`' => f.write_str("\\`")?,
            '\\' => f.write_str("\\\\")?,
            _ => write_escaped_char(f, c)?,
        }
    }
    f.write_str("`")
}

fn write_escaped_char(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '\n' => f.write_str("\\n"),
        '\t' => f.write_str("\\t"),
        '\r' => f.write_str("\\r"),
        c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32),
        c => write!(f, "{c}"),
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Rust prints the shortest decimal that reads back to the same f64.
            Literal::Number(x) => write!(f, "{x}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Text(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        _ => write_escaped_char(f, c)?,
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_field_name(f, &self.field)?;
        match &self.test {
            AtomTest::Truthy => Ok(()),
            AtomTest::Compare { op, value } => write!(f, " {} {value}", op.symbol()),
        }
    }
}

impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Formula::True => f.write_str("true"),
            Formula::False => f.write_str("false"),
            Formula::Atom(atom) => write!(f, "{atom}"),
            Formula::Not(a) => write_unary(f, "!", a),
            Formula::Next(a) => write_unary(f, "X", a),
            Formula::Eventually(a) => write_unary(f, "F", a),
            Formula::Always(a) => write_unary(f, "G", a),
            Formula::And(a, b) => write_binary(f, self.precedence(), "&", a, b),
            Formula::Or(a, b) => write_binary(f, self.precedence(), "|", a, b),
            Formula::Implies(a, b) => write_binary(f, self.precedence(), "->", a, b),
            Formula::Iff(a, b) => write_binary(f, self.precedence(), "<->", a, b),
            Formula::Until(a, b) => write_binary(f, self.precedence(), "U", a, b),
            Formula::Release(a, b) => write_binary(f, self.precedence(), "R", a, b),
            Formula::WeakUntil(a, b) => write_binary(f, self.precedence(), "W", a, b),
        }
    }
}

fn write_unary(f: &mut fmt::Formatter<'_>, op: &str, operand: &Formula) -> fmt::Result {
    f.write_str(op)?;
    // A comparison under a prefix operator reads better in parentheses: `G(latency < 50)`.
    let comparison = matches!(
        operand,
        Formula::Atom(Atom {
            test: AtomTest::Compare { .. },
            ..
        })
    );
    if operand.precedence() < Precedence::Unary || comparison {
        return write!(f, "({operand})");
    }
    // `F p` needs the space (`Fp` is a field name); `!p` and `G(…)` do not.
    if op != "!" {
        f.write_str(" ")?;
    }
    write!(f, "{operand}")
}

fn write_binary(
    f: &mut fmt::Formatter<'_>,
    level: Precedence,
    op: &str,
    left: &Formula,
    right: &Formula,
) -> fmt::Result {
    let right_assoc = is_right_associative(level);
    let left_parens = left.precedence() < level || (left.precedence() == level && right_assoc);
    let right_parens = right.precedence() < level || (right.precedence() == level && !right_assoc);
    write_operand(f, left, left_parens)?;
    write!(f, " {op} ")?;
    write_operand(f, right, right_parens)
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Formula, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(name: &str) -> Formula {
        Formula::Atom(Atom {
            field: name.to_string(),
            test: AtomTest::Truthy,
        })
    }

    fn b(f: Formula) -> Box<Formula> {
        Box::new(f)
    }

    #[test]
    fn prints_minimal_parentheses() {
        let p = atom("p");
        let q = atom("q");
        let g = Formula::Always(b(Formula::Implies(
            b(p.clone()),
            b(Formula::Eventually(b(q.clone()))),
        )));
        assert_eq!(g.to_string(), "G(p -> F q)");
        let left_implies = Formula::Implies(
            b(Formula::Implies(b(p.clone()), b(q.clone()))),
            b(p.clone()),
        );
        assert_eq!(left_implies.to_string(), "(p -> q) -> p");
        let right_implies = Formula::Implies(
            b(p.clone()),
            b(Formula::Implies(b(q.clone()), b(p.clone()))),
        );
        assert_eq!(right_implies.to_string(), "p -> q -> p");
        let and_or = Formula::And(b(Formula::Or(b(p.clone()), b(q.clone()))), b(p.clone()));
        assert_eq!(and_or.to_string(), "(p | q) & p");
        let until_left =
            Formula::Until(b(Formula::Until(b(p.clone()), b(q.clone()))), b(p.clone()));
        assert_eq!(until_left.to_string(), "(p U q) U p");
        let not_and = Formula::Not(b(Formula::And(b(p.clone()), b(q.clone()))));
        assert_eq!(not_and.to_string(), "!(p & q)");
        let not_not = Formula::Not(b(Formula::Not(b(p))));
        assert_eq!(not_not.to_string(), "!!p");
    }

    #[test]
    fn prints_atoms_and_literals() {
        let cmp = Atom {
            field: "status".into(),
            test: AtomTest::Compare {
                op: CompareOp::Eq,
                value: Literal::Text("a \"b\"\n".into()),
            },
        };
        assert_eq!(cmp.to_string(), r#"status == "a \"b\"\n""#);
        let keyword_field = Atom {
            field: "X".into(),
            test: AtomTest::Truthy,
        };
        assert_eq!(keyword_field.to_string(), "`X`");
        let spaced = Atom {
            field: "queue depth".into(),
            test: AtomTest::Compare {
                op: CompareOp::Le,
                value: Literal::Number(-2.5),
            },
        };
        assert_eq!(spaced.to_string(), "`queue depth` <= -2.5");
        assert!(is_plain_field_name("resp.status_2"));
        assert!(!is_plain_field_name("2x"));
        assert!(!is_plain_field_name("true"));
    }

    #[test]
    fn depth_counts_operators() {
        let p = atom("p");
        assert_eq!(p.depth(), 0);
        let f = Formula::Always(b(Formula::Implies(
            b(p.clone()),
            b(Formula::Eventually(b(p))),
        )));
        assert_eq!(f.depth(), 3);
    }
}
