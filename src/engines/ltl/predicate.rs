//! Atoms evaluated over a state, and the one rule for fields that are missing or mistyped.
//!
//! A state is the record at one step: field name → number, boolean or string
//! ([`crate::model::FieldValue`]), so event records feed the monitor directly.
//!
//! # The rule for missing and mistyped fields
//!
//! An atom whose field is **missing** from the state, or holds a value of a **type the atom
//! cannot use**, is **false** at that step, and the monitor counts it against that atom
//! ([`AtomCounts`]). Types an atom can use:
//!
//! | atom | usable values | true when |
//! | --- | --- | --- |
//! | `p` (bare name) | boolean, number | `true`, or a number other than 0 |
//! | `x < 3` and the other orderings | number | the comparison holds |
//! | `x == 3`, `x != 3` | number | the comparison holds |
//! | `s == "ok"`, `s != "ok"` | string | the strings are (not) equal, exactly |
//! | `b == true`, `b != true` | boolean | the booleans are (not) equal |
//!
//! A NaN counts as a mistyped value (it is no number to compare). So `s != "ok"` is false when
//! `s` is missing or is a number: it asks "is `s` a string other than `"ok"`".

use std::collections::BTreeMap;

use super::syntax::{Atom, AtomTest, CompareOp, Formula, Literal};
use crate::model::FieldValue;

/// The state at one step: what the monitors read their atoms from.
pub type State = BTreeMap<String, FieldValue>;

/// At most this many distinct atoms per formula: a step's atom values are one `u64` bit set.
/// A formula of 200 characters holds at most about 60 atoms of one letter each.
pub const MAX_ATOMS: usize = 64;

/// One atom's value at one step, saying why when it is false by the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtomOutcome {
    Holds,
    Fails,
    /// The field is not in the state: the atom is false.
    Missing,
    /// The field's value has a type the atom cannot use: the atom is false.
    WrongType,
}

impl AtomOutcome {
    pub fn holds(self) -> bool {
        self == AtomOutcome::Holds
    }

    fn from_bool(holds: bool) -> Self {
        if holds {
            AtomOutcome::Holds
        } else {
            AtomOutcome::Fails
        }
    }
}

/// How often an atom met a missing or mistyped field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AtomCounts {
    pub missing: u64,
    pub wrong_type: u64,
}

/// Evaluates one atom on the value of its field (`None` when the field is missing).
pub fn evaluate_atom(atom: &Atom, value: Option<&FieldValue>) -> AtomOutcome {
    let Some(value) = value else {
        return AtomOutcome::Missing;
    };
    match (&atom.test, value) {
        (_, FieldValue::Number(x)) if x.is_nan() => AtomOutcome::WrongType,
        (AtomTest::Truthy, FieldValue::Bool(b)) => AtomOutcome::from_bool(*b),
        (AtomTest::Truthy, FieldValue::Number(x)) => AtomOutcome::from_bool(*x != 0.0),
        (
            AtomTest::Compare {
                op,
                value: Literal::Number(c),
            },
            FieldValue::Number(x),
        ) => AtomOutcome::from_bool(match op {
            CompareOp::Eq => x == c,
            CompareOp::Ne => x != c,
            CompareOp::Lt => x < c,
            CompareOp::Le => x <= c,
            CompareOp::Gt => x > c,
            CompareOp::Ge => x >= c,
        }),
        (
            AtomTest::Compare {
                op,
                value: Literal::Text(c),
            },
            FieldValue::Text(s),
        ) => equality(*op, s == c),
        (
            AtomTest::Compare {
                op,
                value: Literal::Bool(c),
            },
            FieldValue::Bool(b),
        ) => equality(*op, b == c),
        _ => AtomOutcome::WrongType,
    }
}

fn equality(op: CompareOp, equal: bool) -> AtomOutcome {
    match op {
        CompareOp::Eq => AtomOutcome::from_bool(equal),
        CompareOp::Ne => AtomOutcome::from_bool(!equal),
        // The parser lets only numbers be ordered.
        _ => AtomOutcome::WrongType,
    }
}

/// The distinct atoms of a formula, grouped by field so that each step looks each field up once.
#[derive(Debug, Clone)]
pub struct AtomTable {
    atoms: Vec<Atom>,
    /// Distinct field names, sorted, each with the indices of its atoms.
    fields: Vec<(String, Vec<usize>)>,
    /// For each atom, the index of its field in `fields`.
    field_of: Vec<usize>,
}

/// A formula with more distinct atoms than [`MAX_ATOMS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the formula has {count} distinct atoms; a monitor handles at most {MAX_ATOMS}")]
pub struct TooManyAtoms {
    pub count: usize,
}

impl AtomTable {
    /// Collects the distinct atoms of `formula` in order of first appearance.
    pub fn new(formula: &Formula) -> Result<Self, TooManyAtoms> {
        let mut atoms: Vec<Atom> = Vec::new();
        formula.for_each_atom(&mut |atom| {
            if !atoms.contains(atom) {
                atoms.push(atom.clone());
            }
        });
        if atoms.len() > MAX_ATOMS {
            return Err(TooManyAtoms { count: atoms.len() });
        }
        let mut names: Vec<&str> = atoms.iter().map(|a| a.field.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut fields: Vec<(String, Vec<usize>)> =
            names.iter().map(|n| (n.to_string(), Vec::new())).collect();
        let mut field_of = Vec::with_capacity(atoms.len());
        for (index, atom) in atoms.iter().enumerate() {
            let slot = names.binary_search(&atom.field.as_str()).unwrap_or(0);
            fields[slot].1.push(index);
            field_of.push(slot);
        }
        Ok(AtomTable {
            atoms,
            fields,
            field_of,
        })
    }

    pub fn atoms(&self) -> &[Atom] {
        &self.atoms
    }

    pub fn len(&self) -> usize {
        self.atoms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.atoms.is_empty()
    }

    /// The index of an atom equal to `atom`, if the formula has one.
    pub fn index_of(&self, atom: &Atom) -> Option<usize> {
        self.atoms.iter().position(|a| a == atom)
    }

    /// The distinct field names the formula reads, sorted.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(name, _)| name.as_str())
    }

    pub(crate) fn field_of(&self, atom: usize) -> usize {
        self.field_of[atom]
    }

    pub(crate) fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The atoms' values on `state` as a bit set (bit `i` for atom `i`), adding missing and
    /// mistyped fields to `counts` (one entry per atom).
    pub fn valuation(&self, state: &State, counts: &mut [AtomCounts]) -> u64 {
        let mut bits = 0u64;
        for (name, atoms) in &self.fields {
            let value = state.get(name.as_str());
            for &index in atoms {
                match evaluate_atom(&self.atoms[index], value) {
                    AtomOutcome::Holds => bits |= 1 << index,
                    AtomOutcome::Fails => {}
                    AtomOutcome::Missing => counts[index].missing += 1,
                    AtomOutcome::WrongType => counts[index].wrong_type += 1,
                }
            }
        }
        bits
    }

    /// For each field, every combination of its atoms' values that some field value produces,
    /// as bit sets over the formula's atoms (bits of other fields' atoms are zero).
    ///
    /// Each atom is constant on the pieces of the value space cut at its literals, so trying one
    /// value per piece — missing, both booleans, NaN, ±∞, 0, each numeric literal and the floats
    /// just below and above it, each string literal and one other string — finds them all.
    /// Combinations that no value produces (`x > 5` true but `x > 3` false) are left out, which
    /// is what lets the monitor see that `F(x > 5 & x < 3)` can never hold.
    pub(crate) fn realizable_valuations(&self) -> Vec<Vec<u64>> {
        self.fields
            .iter()
            .map(|(_, atoms)| {
                let mut found: Vec<u64> = Vec::new();
                for value in representative_values(atoms.iter().map(|&i| &self.atoms[i])) {
                    let mut bits = 0u64;
                    for &index in atoms {
                        if evaluate_atom(&self.atoms[index], value.as_ref()).holds() {
                            bits |= 1 << index;
                        }
                    }
                    if !found.contains(&bits) {
                        found.push(bits);
                    }
                }
                found.sort_unstable();
                found
            })
            .collect()
    }
}

/// One value from every piece of the value space on which the given atoms are constant.
fn representative_values<'a>(atoms: impl Iterator<Item = &'a Atom>) -> Vec<Option<FieldValue>> {
    let mut values = vec![
        None,
        Some(FieldValue::Bool(true)),
        Some(FieldValue::Bool(false)),
        Some(FieldValue::Number(f64::NAN)),
        Some(FieldValue::Number(f64::INFINITY)),
        Some(FieldValue::Number(f64::NEG_INFINITY)),
        Some(FieldValue::Number(0.0)),
        Some(FieldValue::Number(0.0f64.next_up())),
        Some(FieldValue::Number(0.0f64.next_down())),
    ];
    let mut texts: Vec<String> = Vec::new();
    for atom in atoms {
        match &atom.test {
            AtomTest::Compare {
                value: Literal::Number(c),
                ..
            } => {
                for x in [c.next_down(), *c, c.next_up()] {
                    values.push(Some(FieldValue::Number(x)));
                }
            }
            AtomTest::Compare {
                value: Literal::Text(s),
                ..
            } => texts.push(s.clone()),
            AtomTest::Compare {
                value: Literal::Bool(_),
                ..
            }
            | AtomTest::Truthy => {}
        }
    }
    let mut other = String::new();
    while texts.contains(&other) {
        other.push('x');
    }
    texts.push(other);
    values.extend(texts.into_iter().map(|s| Some(FieldValue::Text(s))));
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::ltl::parser::parse;

    fn atom(text: &str) -> Atom {
        match parse(text) {
            Ok(Formula::Atom(a)) => a,
            other => panic!("{text:?} is not an atom: {other:?}"),
        }
    }

    fn num(x: f64) -> FieldValue {
        FieldValue::Number(x)
    }

    #[test]
    fn bare_names_are_true_for_true_and_non_zero_numbers() {
        let p = atom("p");
        assert_eq!(
            evaluate_atom(&p, Some(&FieldValue::Bool(true))),
            AtomOutcome::Holds
        );
        assert_eq!(
            evaluate_atom(&p, Some(&FieldValue::Bool(false))),
            AtomOutcome::Fails
        );
        assert_eq!(evaluate_atom(&p, Some(&num(-0.5))), AtomOutcome::Holds);
        assert_eq!(evaluate_atom(&p, Some(&num(0.0))), AtomOutcome::Fails);
        assert_eq!(evaluate_atom(&p, Some(&num(-0.0))), AtomOutcome::Fails);
        assert_eq!(
            evaluate_atom(&p, Some(&FieldValue::Text("yes".into()))),
            AtomOutcome::WrongType
        );
        assert_eq!(
            evaluate_atom(&p, Some(&num(f64::NAN))),
            AtomOutcome::WrongType
        );
        assert_eq!(evaluate_atom(&p, None), AtomOutcome::Missing);
    }

    #[test]
    fn comparisons_follow_the_rule() {
        let gt = atom("latency > 50");
        assert!(evaluate_atom(&gt, Some(&num(50.5))).holds());
        assert_eq!(evaluate_atom(&gt, Some(&num(50.0))), AtomOutcome::Fails);
        assert_eq!(
            evaluate_atom(&gt, Some(&FieldValue::Bool(true))),
            AtomOutcome::WrongType
        );
        assert_eq!(evaluate_atom(&gt, None), AtomOutcome::Missing);
        let le = atom("q <= 3");
        assert!(evaluate_atom(&le, Some(&num(3.0))).holds());
        assert!(!evaluate_atom(&le, Some(&num(3.0000001))).holds());
        let eq = atom(r#"status == "ok""#);
        assert!(evaluate_atom(&eq, Some(&FieldValue::Text("ok".into()))).holds());
        assert_eq!(
            evaluate_atom(&eq, Some(&FieldValue::Text("OK".into()))),
            AtomOutcome::Fails
        );
        assert_eq!(evaluate_atom(&eq, Some(&num(1.0))), AtomOutcome::WrongType);
        let ne = atom(r#"status != "ok""#);
        assert!(evaluate_atom(&ne, Some(&FieldValue::Text("err".into()))).holds());
        assert_eq!(evaluate_atom(&ne, None), AtomOutcome::Missing);
        assert_eq!(evaluate_atom(&ne, Some(&num(3.0))), AtomOutcome::WrongType);
        let ne_num = atom("x != 0");
        assert_eq!(
            evaluate_atom(&ne_num, Some(&num(f64::NAN))),
            AtomOutcome::WrongType
        );
        let flag = atom("done == true");
        assert!(evaluate_atom(&flag, Some(&FieldValue::Bool(true))).holds());
        assert_eq!(
            evaluate_atom(&flag, Some(&num(1.0))),
            AtomOutcome::WrongType
        );
    }

    #[test]
    fn table_groups_atoms_and_counts_the_rule() {
        let f = parse(r#"G(p -> F q) & x > 1 & p & x <= 2 & s == "a""#).unwrap();
        let table = AtomTable::new(&f).unwrap();
        assert_eq!(table.len(), 5);
        assert_eq!(
            table.field_names().collect::<Vec<_>>(),
            ["p", "q", "s", "x"]
        );
        let mut counts = vec![AtomCounts::default(); table.len()];
        let state: State = [
            ("p".to_string(), FieldValue::Bool(true)),
            ("x".to_string(), FieldValue::Text("7".into())),
            ("s".to_string(), FieldValue::Text("a".into())),
        ]
        .into_iter()
        .collect();
        let bits = table.valuation(&state, &mut counts);
        assert_eq!(bits, 0b10001); // p and s == "a"
        assert_eq!(
            counts[1],
            AtomCounts {
                missing: 1,
                wrong_type: 0
            }
        ); // q
        assert_eq!(
            counts[2],
            AtomCounts {
                missing: 0,
                wrong_type: 1
            }
        ); // x > 1
        assert_eq!(
            counts[3],
            AtomCounts {
                missing: 0,
                wrong_type: 1
            }
        ); // x <= 2
    }

    #[test]
    fn realizable_valuations_are_exactly_those_some_value_gives() {
        let f = parse(r#"x > 5 & x > 3 & x == 4 & p & s == "a" & s != "b""#).unwrap();
        let table = AtomTable::new(&f).unwrap();
        let per_field = table.realizable_valuations();
        // Fields sorted: p, s, x. Atoms: 0 x>5, 1 x>3, 2 x==4, 3 p, 4 s=="a", 5 s!="b".
        assert_eq!(per_field[0], vec![0, 1 << 3]);
        // s: missing/wrong type (none), "a" (both), "b" (none), other (only !=).
        assert_eq!(per_field[1], vec![0, 1 << 5, (1 << 4) | (1 << 5)]);
        // x: none, x>3 only, x>3 & x==4, x>3 & x>5.
        assert_eq!(per_field[2], vec![0, 0b010, 0b011, 0b110]);
        // Brute force over many values agrees.
        for k in -200..200 {
            let v = num(f64::from(k) / 20.0);
            let mut bits = 0;
            for i in 0..3 {
                if evaluate_atom(&table.atoms()[i], Some(&v)).holds() {
                    bits |= 1 << i;
                }
            }
            assert!(per_field[2].contains(&bits), "{v:?} gives {bits:b}");
        }
    }

    #[test]
    fn too_many_atoms_is_an_error() {
        let text = (0..=MAX_ATOMS)
            .map(|i| format!("a{i}"))
            .collect::<Vec<_>>()
            .join(" & ");
        let err = AtomTable::new(&parse(&text).unwrap()).unwrap_err();
        assert_eq!(err.count, MAX_ATOMS + 1);
    }
}
