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

use std::cmp::Ordering;

use super::syntax::{Atom, AtomTest, CompareOp, Formula, Literal};
use crate::model::order;
use crate::model::{FieldValue, Fields};

/// The state at one step: what the monitors read their atoms from.
pub type State = Fields;

/// A state with at most this many keys per field of the formula is read in one merged pass over
/// its (sorted) keys; a larger one by looking each field up. A walk costs one short comparison
/// per key, a lookup about log₂(keys) comparisons plus the descent, so the walk wins while there
/// are only a few keys per field; past 4 the lookups' cost stops growing and the walk's does not.
const MERGE_LOOKUP_RATIO: usize = 4;

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
    /// Per field (as in `fields`), how its value becomes bits.
    plans: Vec<FieldPlan>,
}

/// How one field's atoms turn its value into bits, with everything that does not depend on the
/// value worked out in advance: per value type, which atoms hold outright and which are
/// mistyped, and the comparisons that remain. Agrees with [`evaluate_atom`] on every value
/// (unit-tested).
#[derive(Debug, Clone, Default)]
struct FieldPlan {
    /// Bits of all this field's atoms (all false, and counted missing, when it is absent).
    all: u64,
    bool_true: u64,
    bool_false: u64,
    /// Atoms that cannot use a boolean (orderings, number and string comparisons).
    bool_wrong: u64,
    /// Bare-name atoms: true on a non-zero number.
    truthy: u64,
    numbers: Vec<(u64, CompareOp, f64)>,
    /// Atoms that cannot use a number (string and boolean comparisons).
    number_wrong: u64,
    texts: Vec<(u64, Box<str>, bool)>,
    /// Atoms that cannot use a string (bare names, number and boolean comparisons).
    text_wrong: u64,
}

impl FieldPlan {
    fn new<'a>(atoms: impl Iterator<Item = (usize, &'a Atom)>) -> Self {
        let mut plan = FieldPlan::default();
        for (index, atom) in atoms {
            let bit = 1u64 << index;
            plan.all |= bit;
            match &atom.test {
                AtomTest::Truthy => {
                    plan.bool_true |= bit;
                    plan.truthy |= bit;
                    plan.text_wrong |= bit;
                }
                AtomTest::Compare {
                    op,
                    value: Literal::Number(c),
                } => {
                    plan.numbers.push((bit, *op, *c));
                    plan.bool_wrong |= bit;
                    plan.text_wrong |= bit;
                }
                AtomTest::Compare {
                    op,
                    value: Literal::Text(c),
                } => {
                    plan.texts
                        .push((bit, c.as_str().into(), *op == CompareOp::Eq));
                    plan.bool_wrong |= bit;
                    plan.number_wrong |= bit;
                }
                AtomTest::Compare {
                    op,
                    value: Literal::Bool(c),
                } => {
                    let equal = *op == CompareOp::Eq;
                    if *c == equal {
                        plan.bool_true |= bit;
                    } else {
                        plan.bool_false |= bit;
                    }
                    plan.number_wrong |= bit;
                    plan.text_wrong |= bit;
                }
            }
        }
        plan
    }

    /// The bits of the atoms that hold, and those of the atoms that are missing or mistyped.
    #[inline]
    fn evaluate(&self, value: Option<&FieldValue>) -> (u64, u64, u64) {
        match value {
            None => (0, self.all, 0),
            Some(FieldValue::Bool(true)) => (self.bool_true, 0, self.bool_wrong),
            Some(FieldValue::Bool(false)) => (self.bool_false, 0, self.bool_wrong),
            Some(FieldValue::Number(x)) if x.is_nan() => (0, 0, self.all),
            Some(FieldValue::Number(x)) => {
                let mut bits = if *x != 0.0 { self.truthy } else { 0 };
                for &(bit, op, c) in &self.numbers {
                    let holds = match op {
                        CompareOp::Eq => *x == c,
                        CompareOp::Ne => *x != c,
                        CompareOp::Lt => *x < c,
                        CompareOp::Le => *x <= c,
                        CompareOp::Gt => *x > c,
                        CompareOp::Ge => *x >= c,
                    };
                    if holds {
                        bits |= bit;
                    }
                }
                (bits, 0, self.number_wrong)
            }
            Some(FieldValue::Text(s)) => {
                let mut bits = 0;
                for (bit, literal, equal) in &self.texts {
                    if (**literal == **s) == *equal {
                        bits |= bit;
                    }
                }
                (bits, 0, self.text_wrong)
            }
        }
    }
}

/// A formula with more distinct atoms than [`MAX_ATOMS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the formula has {count} distinct atoms; a monitor handles at most {MAX_ATOMS}")]
pub struct TooManyAtoms {
    pub count: usize,
}

/// Adds one to the chosen counter of every atom whose bit is set.
#[inline]
fn count(mut atoms: u64, counts: &mut [AtomCounts], missing: bool) {
    while atoms != 0 {
        let index = atoms.trailing_zeros() as usize;
        if let Some(c) = counts.get_mut(index) {
            if missing {
                c.missing += 1;
            } else {
                c.wrong_type += 1;
            }
        }
        atoms &= atoms - 1;
    }
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
        order::sort_unstable(&mut names);
        names.dedup();
        let mut fields: Vec<(String, Vec<usize>)> =
            names.iter().map(|n| (n.to_string(), Vec::new())).collect();
        let mut field_of = Vec::with_capacity(atoms.len());
        for (index, atom) in atoms.iter().enumerate() {
            let slot = names.binary_search(&atom.field.as_str()).unwrap_or(0);
            fields[slot].1.push(index);
            field_of.push(slot);
        }
        let plans = fields
            .iter()
            .map(|(_, members)| FieldPlan::new(members.iter().map(|&i| (i, &atoms[i]))))
            .collect();
        Ok(AtomTable {
            atoms,
            fields,
            field_of,
            plans,
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
    #[inline]
    pub fn valuation(&self, state: &State, counts: &mut [AtomCounts]) -> u64 {
        let mut bits = 0u64;
        let fields = self.fields.len();
        if state.slots() <= MERGE_LOOKUP_RATIO * fields {
            // Both the state's keys and the formula's fields are sorted: one merged pass.
            let mut next = 0;
            for (key, value) in state.iter() {
                while next < fields {
                    match compare_names(key.as_bytes(), self.fields[next].0.as_bytes()) {
                        Ordering::Less => break,
                        Ordering::Equal => {
                            self.evaluate_field(next, Some(value), &mut bits, counts);
                            next += 1;
                            break;
                        }
                        Ordering::Greater => {
                            self.evaluate_field(next, None, &mut bits, counts);
                            next += 1;
                        }
                    }
                }
                if next == fields {
                    return bits;
                }
            }
            for field in next..fields {
                self.evaluate_field(field, None, &mut bits, counts);
            }
        } else {
            for field in 0..fields {
                let value = state.get(self.fields[field].0.as_str());
                self.evaluate_field(field, value, &mut bits, counts);
            }
        }
        bits
    }

    #[inline]
    fn evaluate_field(
        &self,
        field: usize,
        value: Option<&FieldValue>,
        bits: &mut u64,
        counts: &mut [AtomCounts],
    ) {
        let (holds, missing, wrong) = self.plans[field].evaluate(value);
        *bits |= holds;
        if missing | wrong != 0 {
            count(missing, counts, true);
            count(wrong, counts, false);
        }
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
                order::sort_unstable(&mut found);
                found
            })
            .collect()
    }
}

/// Byte-wise order of two names, the order of `BTreeMap<String, _>` keys. Written out because
/// field names are short and usually differ in their first bytes, where a loop beats a call to
/// `memcmp`.
#[inline]
fn compare_names(a: &[u8], b: &[u8]) -> Ordering {
    let common = a.len().min(b.len());
    let mut i = 0;
    while i < common {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
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
    fn compiled_checks_agree_with_the_rule() {
        let f = parse(r#"p & x > 1 & x == 1 & x != 1 & x < -2 & x <= 0 & x >= 3 & s == "a" & s != "a" & b == true & b != false"#)
            .unwrap();
        let table = AtomTable::new(&f).unwrap();
        let values = representative_values(table.atoms().iter());
        for value in &values {
            for (field, name) in table.field_names().enumerate() {
                let (holds, missing, wrong) = table.plans[field].evaluate(value.as_ref());
                for (i, atom) in table.atoms().iter().enumerate() {
                    if atom.field != name {
                        continue;
                    }
                    let bit = 1u64 << i;
                    let got = match (holds & bit != 0, missing & bit != 0, wrong & bit != 0) {
                        (true, false, false) => AtomOutcome::Holds,
                        (false, false, false) => AtomOutcome::Fails,
                        (false, true, false) => AtomOutcome::Missing,
                        (false, false, true) => AtomOutcome::WrongType,
                        other => panic!("{atom} on {value:?}: {other:?}"),
                    };
                    assert_eq!(
                        got,
                        evaluate_atom(atom, value.as_ref()),
                        "{atom} on {value:?}"
                    );
                }
            }
        }
        // The merged walk and the lookups read the same state the same way.
        let state: State = ["", "a", "b", "bb", "p", "pp", "s", "t", "x", "z"]
            .iter()
            .enumerate()
            .map(|(i, k)| (k.to_string(), FieldValue::Number(i as f64)))
            .collect();
        let mut merged = vec![AtomCounts::default(); table.len()];
        let bits = table.valuation(&state, &mut merged);
        let mut expected = 0u64;
        let mut counts = vec![AtomCounts::default(); table.len()];
        for (i, atom) in table.atoms().iter().enumerate() {
            match evaluate_atom(atom, state.get(&atom.field)) {
                AtomOutcome::Holds => expected |= 1 << i,
                AtomOutcome::Fails => {}
                AtomOutcome::Missing => counts[i].missing += 1,
                AtomOutcome::WrongType => counts[i].wrong_type += 1,
            }
        }
        assert_eq!((bits, &merged), (expected, &counts));
        let sparse: State = [("x".to_string(), FieldValue::Number(3.0))]
            .into_iter()
            .collect();
        let mut merged = vec![AtomCounts::default(); table.len()];
        assert_eq!(table.valuation(&sparse, &mut merged), 0b1001010);
        assert_eq!(
            merged[0],
            AtomCounts {
                missing: 1,
                wrong_type: 0
            }
        );
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
