//! Hash-consed formulas in negation normal form: the monitor's states and their one-step
//! unfolding.
//!
//! Every distinct formula is stored once and named by a [`NodeId`], so equal formulas are equal
//! ids and a set of states is a set of integers. Conjunctions and disjunctions are flattened,
//! sorted and deduplicated (associativity, commutativity, idempotence), and constants are folded;
//! that is what keeps the set of formulas reachable by progression finite (as derivatives of
//! regular expressions are finite modulo ACI, Brzozowski 1964).
//!
//! Negation is pushed to the atoms with the LTLf dualities (De Giacomo & Vardi 2013):
//! `!X a = N !a` (weak next: true at the last step), `!(a U b) = !a R !b`, `!F a = G !a`,
//! `!(a W b) = !b U (!a & !b)`.

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use super::predicate::AtomTable;
use super::syntax::Formula;
use crate::model::order;

pub(crate) type NodeId = u32;

pub(crate) const TRUE: NodeId = 0;
pub(crate) const FALSE: NodeId = 1;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    True,
    False,
    /// Atom `atom` (an index into the formula's [`AtomTable`]) or its negation.
    Lit {
        atom: u8,
        positive: bool,
    },
    /// Children sorted and distinct; shared so that copying a node never allocates.
    And(Arc<[NodeId]>),
    Or(Arc<[NodeId]>),
    /// Strong next: there is a next step and it satisfies the operand.
    Next(NodeId),
    /// Weak next: if there is a next step, it satisfies the operand.
    WeakNext(NodeId),
    Eventually(NodeId),
    Always(NodeId),
    Until(NodeId, NodeId),
    Release(NodeId, NodeId),
    WeakUntil(NodeId, NodeId),
}

/// The store of hash-consed formulas.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    nodes: Vec<Node>,
    index: HashMap<Node, NodeId>,
    /// Conjunctions and disjunctions by their children, so a lookup needs no allocation.
    ands: HashMap<Arc<[NodeId]>, NodeId>,
    ors: HashMap<Arc<[NodeId]>, NodeId>,
    /// Reused by `junction` for flattening.
    scratch: Vec<NodeId>,
    expansions: HashMap<NodeId, NodeId>,
    canonical: HashMap<NodeId, NodeId>,
    assignments: HashMap<(NodeId, u8, bool), NodeId>,
    successors: HashMap<NodeId, NodeId>,
    /// Literals are interned first, so literal `a` has id `2 + 2a` (negative) or `3 + 2a`
    /// (positive) and its complement is one bit flip away.
    atom_count: u32,
    /// Steps of work done, and the most allowed before the compilation is refused (see
    /// [`Store::step`]).
    spent: usize,
    budget: usize,
    /// Per node, its [`Store::first_atom`] once known: `UNKNOWN`, `NO_ATOM`, or the atom.
    first_atoms: Vec<u8>,
}

const UNKNOWN: u8 = u8::MAX;
const NO_ATOM: u8 = u8::MAX - 1;

/// The most conjunctions a state's disjunctive normal form may have. Progression can make DNFs
/// exponential in the number of pending obligations; past this the formula is reported as too
/// large instead of exhausting memory (formulas people write stay in the tens).
pub(crate) const MAX_DNF_CUBES: usize = 4096;

/// Why a compilation stopped: a state's formula grew past [`MAX_DNF_CUBES`] conjunctions, or
/// the work ran past the budget given to [`Store::set_step_budget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DnfTooLarge {
    Cubes,
    /// The budget, spent.
    Steps(usize),
}

impl Store {
    pub(crate) fn new(atom_count: usize) -> Self {
        let mut store = Store {
            nodes: Vec::new(),
            index: HashMap::default(),
            ands: HashMap::default(),
            ors: HashMap::default(),
            scratch: Vec::new(),
            expansions: HashMap::default(),
            canonical: HashMap::default(),
            assignments: HashMap::default(),
            successors: HashMap::default(),
            atom_count: atom_count as u32,
            spent: 0,
            budget: usize::MAX,
            first_atoms: Vec::new(),
        };
        store.intern(Node::True);
        store.intern(Node::False);
        for atom in 0..atom_count {
            for positive in [false, true] {
                store.intern(Node::Lit {
                    atom: atom as u8,
                    positive,
                });
            }
        }
        store
    }

    /// Limits the work of what follows to `steps` (see [`Store::step`]).
    pub(crate) fn set_step_budget(&mut self, steps: usize) {
        self.budget = steps;
    }

    /// Counts one step of work, and fails once the budget is spent. A step is one split of an
    /// unfolding on an atom, one child visited while rewriting a junction, or one conjunction
    /// formed or compared while normalising: each costs about the same.
    pub(crate) fn step(&mut self) -> Result<(), DnfTooLarge> {
        self.charge(1)
    }

    fn charge(&mut self, steps: usize) -> Result<(), DnfTooLarge> {
        self.spent = self.spent.saturating_add(steps);
        if self.spent > self.budget {
            return Err(DnfTooLarge::Steps(self.budget));
        }
        Ok(())
    }

    /// The negation of a literal's id, or `None` when `id` is not a literal.
    fn complement(&self, id: NodeId) -> Option<NodeId> {
        (id >= 2 && id < 2 + 2 * self.atom_count).then_some(id ^ 1)
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    fn intern(&mut self, node: Node) -> NodeId {
        if let Some(&id) = self.index.get(&node) {
            return id;
        }
        let id = self.nodes.len() as NodeId;
        self.nodes.push(node.clone());
        self.index.insert(node, id);
        id
    }

    pub(crate) fn lit(&self, atom: u8, positive: bool) -> NodeId {
        2 + 2 * NodeId::from(atom) + NodeId::from(positive)
    }

    pub(crate) fn and(&mut self, children: &[NodeId]) -> NodeId {
        self.junction(children, true)
    }

    pub(crate) fn or(&mut self, children: &[NodeId]) -> NodeId {
        self.junction(children, false)
    }

    /// A conjunction (`is_and`) or disjunction, flattened, sorted, deduplicated and folded.
    fn junction(&mut self, children: &[NodeId], is_and: bool) -> NodeId {
        let (unit, zero) = if is_and { (TRUE, FALSE) } else { (FALSE, TRUE) };
        let mut flat = std::mem::take(&mut self.scratch);
        flat.clear();
        for &child in children {
            if child == zero {
                self.scratch = flat;
                return zero;
            }
            if child == unit {
                continue;
            }
            match &self.nodes[child as usize] {
                Node::And(inner) if is_and => flat.extend_from_slice(inner),
                Node::Or(inner) if !is_and => flat.extend_from_slice(inner),
                _ => flat.push(child),
            }
        }
        order::sort_unstable(&mut flat);
        flat.dedup();
        // A literal next to its own negation decides the whole junction. Literals have the
        // smallest ids, so they come first and a complementary pair is adjacent.
        let result = if flat
            .windows(2)
            .any(|pair| self.complement(pair[0]) == Some(pair[1]))
        {
            zero
        } else {
            match flat.len() {
                0 => unit,
                1 => flat[0],
                _ => {
                    let known = if is_and { &self.ands } else { &self.ors };
                    if let Some(&id) = known.get(&flat[..]) {
                        id
                    } else {
                        let children: Arc<[NodeId]> = Arc::from(&flat[..]);
                        let id = self.nodes.len() as NodeId;
                        let node = if is_and {
                            self.ands.insert(Arc::clone(&children), id);
                            Node::And(children)
                        } else {
                            self.ors.insert(Arc::clone(&children), id);
                            Node::Or(children)
                        };
                        self.nodes.push(node);
                        id
                    }
                }
            }
        };
        self.scratch = flat;
        result
    }

    pub(crate) fn next(&mut self, a: NodeId) -> NodeId {
        if a == FALSE {
            return FALSE;
        }
        self.intern(Node::Next(a))
    }

    pub(crate) fn weak_next(&mut self, a: NodeId) -> NodeId {
        if a == TRUE {
            return TRUE;
        }
        self.intern(Node::WeakNext(a))
    }

    pub(crate) fn eventually(&mut self, a: NodeId) -> NodeId {
        match self.nodes[a as usize] {
            Node::True | Node::False | Node::Eventually(_) => a,
            _ => self.intern(Node::Eventually(a)),
        }
    }

    pub(crate) fn always(&mut self, a: NodeId) -> NodeId {
        match self.nodes[a as usize] {
            Node::True | Node::False | Node::Always(_) => a,
            _ => self.intern(Node::Always(a)),
        }
    }

    pub(crate) fn until(&mut self, a: NodeId, b: NodeId) -> NodeId {
        match (a, b) {
            (_, TRUE) | (_, FALSE) => b,
            (FALSE, _) => b,
            (TRUE, _) => self.eventually(b),
            _ if a == b => a,
            _ => self.intern(Node::Until(a, b)),
        }
    }

    pub(crate) fn release(&mut self, a: NodeId, b: NodeId) -> NodeId {
        match (a, b) {
            (_, TRUE) | (_, FALSE) => b,
            (TRUE, _) => b,
            (FALSE, _) => self.always(b),
            _ if a == b => a,
            _ => self.intern(Node::Release(a, b)),
        }
    }

    pub(crate) fn weak_until(&mut self, a: NodeId, b: NodeId) -> NodeId {
        match (a, b) {
            (_, TRUE) | (TRUE, _) => TRUE,
            (FALSE, _) => b,
            (_, FALSE) => self.always(a),
            _ if a == b => a,
            _ => self.intern(Node::WeakUntil(a, b)),
        }
    }

    /// Converts a parsed formula (or its negation) to negation normal form.
    pub(crate) fn convert(
        &mut self,
        formula: &Formula,
        negated: bool,
        atoms: &AtomTable,
    ) -> NodeId {
        let go = |store: &mut Store, f: &Formula, neg: bool| store.convert(f, neg, atoms);
        match formula {
            Formula::True => {
                if negated {
                    FALSE
                } else {
                    TRUE
                }
            }
            Formula::False => {
                if negated {
                    TRUE
                } else {
                    FALSE
                }
            }
            Formula::Atom(atom) => {
                // Every atom of the formula is in its table, which holds at most 64.
                let index = atoms.index_of(atom).unwrap_or(0) as u8;
                self.lit(index, !negated)
            }
            Formula::Not(a) => go(self, a, !negated),
            Formula::And(a, b) | Formula::Or(a, b) => {
                let (x, y) = (go(self, a, negated), go(self, b, negated));
                if matches!(formula, Formula::And(..)) != negated {
                    self.and(&[x, y])
                } else {
                    self.or(&[x, y])
                }
            }
            Formula::Implies(a, b) => {
                // a -> b  =  !a | b;  !(a -> b)  =  a & !b
                let (x, y) = (go(self, a, !negated), go(self, b, negated));
                if negated {
                    self.and(&[x, y])
                } else {
                    self.or(&[x, y])
                }
            }
            Formula::Iff(a, b) => {
                // a <-> b  =  (a & b) | (!a & !b);  !(a <-> b)  =  (a & !b) | (!a & b)
                let (pa, na) = (go(self, a, false), go(self, a, true));
                let (pb, nb) = (go(self, b, false), go(self, b, true));
                let (first, second) = if negated {
                    (self.and(&[pa, nb]), self.and(&[na, pb]))
                } else {
                    (self.and(&[pa, pb]), self.and(&[na, nb]))
                };
                self.or(&[first, second])
            }
            Formula::Next(a) => {
                let x = go(self, a, negated);
                if negated {
                    self.weak_next(x)
                } else {
                    self.next(x)
                }
            }
            Formula::Eventually(a) => {
                let x = go(self, a, negated);
                if negated {
                    self.always(x)
                } else {
                    self.eventually(x)
                }
            }
            Formula::Always(a) => {
                let x = go(self, a, negated);
                if negated {
                    self.eventually(x)
                } else {
                    self.always(x)
                }
            }
            Formula::Until(a, b) => {
                let (x, y) = (go(self, a, negated), go(self, b, negated));
                if negated {
                    self.release(x, y)
                } else {
                    self.until(x, y)
                }
            }
            Formula::Release(a, b) => {
                let (x, y) = (go(self, a, negated), go(self, b, negated));
                if negated {
                    self.until(x, y)
                } else {
                    self.release(x, y)
                }
            }
            Formula::WeakUntil(a, b) => {
                if negated {
                    // !(a W b)  =  !b U (!a & !b)
                    let (na, nb) = (go(self, a, true), go(self, b, true));
                    let both = self.and(&[na, nb]);
                    self.until(nb, both)
                } else {
                    let (x, y) = (go(self, a, false), go(self, b, false));
                    self.weak_until(x, y)
                }
            }
        }
    }

    /// The one-step unfolding of a formula: a Boolean combination of literals (about the current
    /// step) and `Next`/`WeakNext` obligations (about the rest of the trace), by the expansion
    /// laws `F a = a | X F a`, `G a = a & N G a`, `a U b = b | (a & X(a U b))`,
    /// `a R b = b & (a | N(a R b))`, `a W b = b | (a & N(a W b))`.
    pub(crate) fn expand(&mut self, id: NodeId) -> NodeId {
        if let Some(&done) = self.expansions.get(&id) {
            return done;
        }
        let expanded = match self.nodes[id as usize].clone() {
            Node::True | Node::False | Node::Lit { .. } | Node::Next(_) | Node::WeakNext(_) => id,
            Node::And(children) => {
                let parts: Vec<NodeId> = children.iter().map(|&c| self.expand(c)).collect();
                self.and(&parts)
            }
            Node::Or(children) => {
                let parts: Vec<NodeId> = children.iter().map(|&c| self.expand(c)).collect();
                self.or(&parts)
            }
            Node::Eventually(a) => {
                let (now, later) = (self.expand(a), self.next(id));
                self.or(&[now, later])
            }
            Node::Always(a) => {
                let (now, later) = (self.expand(a), self.weak_next(id));
                self.and(&[now, later])
            }
            Node::Until(a, b) => {
                let (ea, eb, later) = (self.expand(a), self.expand(b), self.next(id));
                let keep = self.and(&[ea, later]);
                self.or(&[eb, keep])
            }
            Node::Release(a, b) => {
                let (ea, eb, later) = (self.expand(a), self.expand(b), self.weak_next(id));
                let keep = self.or(&[ea, later]);
                self.and(&[eb, keep])
            }
            Node::WeakUntil(a, b) => {
                let (ea, eb, later) = (self.expand(a), self.expand(b), self.weak_next(id));
                let keep = self.and(&[ea, later]);
                self.or(&[eb, keep])
            }
        };
        self.expansions.insert(id, expanded);
        expanded
    }

    /// Rebuilds a junction with `f` applied to its children, or returns it as it is when `f`
    /// changes none of them (the common case, which then allocates nothing).
    fn map_children(
        &mut self,
        id: NodeId,
        children: &[NodeId],
        is_and: bool,
        mut f: impl FnMut(&mut Store, NodeId) -> NodeId,
    ) -> NodeId {
        // Counted here, checked at the next `step` (rewriting cannot fail).
        self.spent = self.spent.saturating_add(children.len());
        let mut changed: Option<Vec<NodeId>> = None;
        for (i, &child) in children.iter().enumerate() {
            let mapped = f(self, child);
            match &mut changed {
                Some(parts) => parts.push(mapped),
                None if mapped != child => {
                    let mut parts = Vec::with_capacity(children.len());
                    parts.extend_from_slice(&children[..i]);
                    parts.push(mapped);
                    changed = Some(parts);
                }
                None => {}
            }
        }
        match changed {
            None => id,
            Some(parts) => self.junction(&parts, is_and),
        }
    }

    /// The smallest atom index among the literals of an unfolding (outside obligations).
    /// Remembered per node: the decision diagrams ask it of every unfolding they split.
    pub(crate) fn first_atom(&mut self, id: NodeId) -> Option<u8> {
        let index = id as usize;
        if self.first_atoms.len() < self.nodes.len() {
            self.first_atoms.resize(self.nodes.len(), UNKNOWN);
        }
        match self.first_atoms[index] {
            UNKNOWN => {}
            NO_ATOM => return None,
            atom => return Some(atom),
        }
        let found = match &self.nodes[index] {
            Node::Lit { atom, .. } => Some(*atom),
            Node::And(children) | Node::Or(children) => {
                let children = Arc::clone(children);
                children.iter().filter_map(|&c| self.first_atom(c)).min()
            }
            _ => None,
        };
        self.first_atoms[index] = found.unwrap_or(NO_ATOM);
        found
    }

    /// An unfolding with atom `atom` set to `value`.
    pub(crate) fn assign(&mut self, id: NodeId, atom: u8, value: bool) -> NodeId {
        if let Some(&done) = self.assignments.get(&(id, atom, value)) {
            return done;
        }
        let result = self.assign_uncached(id, atom, value);
        self.assignments.insert((id, atom, value), result);
        result
    }

    fn assign_uncached(&mut self, id: NodeId, atom: u8, value: bool) -> NodeId {
        match self.nodes[id as usize].clone() {
            Node::Lit { atom: a, positive } if a == atom => {
                if positive == value {
                    TRUE
                } else {
                    FALSE
                }
            }
            Node::And(children) => {
                self.map_children(id, &children, true, |store, c| store.assign(c, atom, value))
            }
            Node::Or(children) => self.map_children(id, &children, false, |store, c| {
                store.assign(c, atom, value)
            }),
            _ => id,
        }
    }

    /// What an unfolding without literals asks of a non-empty rest of the trace: each
    /// obligation `X a` or `N a` becomes `a` (progression, Bacchus & Kabanza 1998).
    pub(crate) fn successor(&mut self, id: NodeId) -> NodeId {
        if let Some(&done) = self.successors.get(&id) {
            return done;
        }
        let result = self.successor_uncached(id);
        self.successors.insert(id, result);
        result
    }

    fn successor_uncached(&mut self, id: NodeId) -> NodeId {
        match self.nodes[id as usize].clone() {
            Node::Next(a) | Node::WeakNext(a) => a,
            Node::And(children) => {
                self.map_children(id, &children, true, |store, c| store.successor(c))
            }
            Node::Or(children) => {
                self.map_children(id, &children, false, |store, c| store.successor(c))
            }
            _ => id,
        }
    }

    /// A formula rewritten as a disjunction of conjunctions of non-Boolean subformulas, sorted,
    /// without duplicates and without a conjunction that contains another (absorption).
    ///
    /// ACI normalisation alone lets progression nest `&` and `|` ever deeper (the states of
    /// `(a R b) R G F c` would never repeat); every state is a Boolean combination of the finitely
    /// many temporal subformulas of the original formula, and this form names each such
    /// combination by one of finitely many sets of sets, so the automaton is finite.
    pub(crate) fn canonical(&mut self, id: NodeId) -> Result<NodeId, DnfTooLarge> {
        if let Some(&done) = self.canonical.get(&id) {
            return Ok(done);
        }
        let cubes = self.dnf(id)?;
        let conjunctions: Vec<NodeId> = cubes.iter().map(|cube| self.and(cube)).collect();
        let result = self.or(&conjunctions);
        self.canonical.insert(id, result);
        self.canonical.insert(result, result);
        Ok(result)
    }

    fn dnf(&mut self, id: NodeId) -> Result<Vec<Vec<NodeId>>, DnfTooLarge> {
        match self.nodes[id as usize].clone() {
            Node::True => Ok(vec![Vec::new()]),
            Node::False => Ok(Vec::new()),
            Node::Or(children) => {
                let mut cubes = Vec::new();
                for &child in children.iter() {
                    cubes.extend(self.dnf(child)?);
                }
                self.reduce(cubes)
            }
            Node::And(children) => {
                let mut cubes = vec![Vec::new()];
                for &child in children.iter() {
                    let factor = self.dnf(child)?;
                    let mut product = Vec::with_capacity(cubes.len() * factor.len());
                    for left in &cubes {
                        for right in &factor {
                            let mut cube: Vec<NodeId> = left.clone();
                            cube.extend_from_slice(right);
                            product.push(cube);
                        }
                    }
                    if product.len() > MAX_DNF_CUBES * 4 {
                        return Err(DnfTooLarge::Cubes);
                    }
                    self.charge(product.len())?;
                    cubes = self.reduce(product)?;
                }
                Ok(cubes)
            }
            _ => Ok(vec![vec![id]]),
        }
    }

    /// Sorts and deduplicates each conjunction, drops contradictory ones and those that
    /// contain another.
    fn reduce(&mut self, mut cubes: Vec<Vec<NodeId>>) -> Result<Vec<Vec<NodeId>>, DnfTooLarge> {
        for cube in &mut cubes {
            order::sort_unstable(cube);
            cube.dedup();
        }
        cubes.retain(|cube| !self.contradictory(cube));
        order::sort_unstable_by(&mut cubes, |a, b| {
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        });
        cubes.dedup();
        let mut kept: Vec<Vec<NodeId>> = Vec::with_capacity(cubes.len());
        for cube in cubes {
            // Each cube is compared with those kept: that is the quadratic part of the work.
            self.charge(1 + kept.len() / 16)?;
            let absorbed = kept
                .iter()
                .any(|smaller| smaller.iter().all(|x| cube.binary_search(x).is_ok()));
            if !absorbed {
                kept.push(cube);
            }
        }
        if kept.len() > MAX_DNF_CUBES {
            return Err(DnfTooLarge::Cubes);
        }
        Ok(kept)
    }

    fn contradictory(&self, cube: &[NodeId]) -> bool {
        cube.windows(2)
            .any(|pair| self.complement(pair[0]) == Some(pair[1]))
    }

    /// Whether an unfolding without literals holds when the trace ends here: strong
    /// obligations fail, weak ones hold.
    pub(crate) fn holds_at_end(&self, id: NodeId) -> bool {
        match &self.nodes[id as usize] {
            Node::True | Node::WeakNext(_) => true,
            Node::False | Node::Next(_) | Node::Lit { .. } => false,
            Node::And(children) => children.iter().all(|&c| self.holds_at_end(c)),
            Node::Or(children) => children.iter().any(|&c| self.holds_at_end(c)),
            // Temporal operators only appear under obligations in an unfolding.
            _ => false,
        }
    }

    /// The formula back in the user's syntax (`N a` is written `!X !a`), for `--explain`.
    pub(crate) fn to_formula(&self, id: NodeId, atoms: &AtomTable) -> Formula {
        let go = |c: NodeId| Box::new(self.to_formula(c, atoms));
        let fold = |children: &[NodeId], make: fn(Box<Formula>, Box<Formula>) -> Formula| {
            let mut iter = children.iter();
            let first = iter
                .next()
                .map_or(Formula::True, |&c| self.to_formula(c, atoms));
            iter.fold(first, |acc, &c| make(Box::new(acc), go(c)))
        };
        match &self.nodes[id as usize] {
            Node::True => Formula::True,
            Node::False => Formula::False,
            Node::Lit { atom, positive } => {
                let a = Formula::Atom(atoms.atoms()[*atom as usize].clone());
                if *positive {
                    a
                } else {
                    Formula::Not(Box::new(a))
                }
            }
            Node::And(children) => fold(children, Formula::And),
            Node::Or(children) => fold(children, Formula::Or),
            Node::Next(a) => Formula::Next(go(*a)),
            Node::WeakNext(a) => {
                let negated = self.negation(*a, atoms);
                Formula::Not(Box::new(Formula::Next(Box::new(negated))))
            }
            Node::Eventually(a) => Formula::Eventually(go(*a)),
            Node::Always(a) => Formula::Always(go(*a)),
            Node::Until(a, b) => Formula::Until(go(*a), go(*b)),
            Node::Release(a, b) => Formula::Release(go(*a), go(*b)),
            Node::WeakUntil(a, b) => Formula::WeakUntil(go(*a), go(*b)),
        }
    }

    fn negation(&self, id: NodeId, atoms: &AtomTable) -> Formula {
        match self.to_formula(id, atoms) {
            Formula::Not(inner) => *inner,
            Formula::True => Formula::False,
            Formula::False => Formula::True,
            other => Formula::Not(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::ltl::parser::parse;

    fn nnf(text: &str) -> (Store, NodeId, AtomTable) {
        let f = parse(text).unwrap();
        let atoms = AtomTable::new(&f).unwrap();
        let mut store = Store::new(atoms.len());
        let id = store.convert(&f, false, &atoms);
        (store, id, atoms)
    }

    fn show(text: &str) -> String {
        let (store, id, atoms) = nnf(text);
        store.to_formula(id, &atoms).to_string()
    }

    #[test]
    fn negations_reach_the_atoms() {
        assert_eq!(show("!X p"), "!X p");
        assert_eq!(show("!X !p"), "!X !p");
        assert_eq!(show("!(p U q)"), "!p R !q");
        assert_eq!(show("!G F p"), "F G !p");
        assert_eq!(show("!(p W q)"), "!q U (!p & !q)");
        assert_eq!(show("!(p -> q)"), "p & !q");
        assert_eq!(show("!!p"), "p");
    }

    #[test]
    fn junctions_are_normalised() {
        assert_eq!(nnf("p & q").1, nnf("q & p & q").1.min(nnf("p & q").1));
        let (mut store, _, atoms) = nnf("p & q & r");
        let p = store.lit(0, true);
        let q = store.lit(1, true);
        let r = store.lit(2, true);
        let pq = store.and(&[p, q]);
        let left = store.and(&[pq, r]);
        let qr = store.and(&[r, q]);
        let right = store.and(&[p, qr, p]);
        assert_eq!(left, right);
        let np = store.lit(0, false);
        assert_eq!(store.and(&[p, q, np]), FALSE);
        assert_eq!(store.or(&[p, np]), TRUE);
        assert_eq!(store.or(&[FALSE, p]), p);
        assert_eq!(store.to_formula(left, &atoms).to_string(), "p & q & r");
    }

    #[test]
    fn constants_fold() {
        assert_eq!(show("X false"), "false");
        assert_eq!(show("!X true"), "!X true");
        assert_eq!(show("F F p"), "F p");
        assert_eq!(show("true U p"), "F p");
        assert_eq!(show("false R p"), "G p");
        assert_eq!(show("p W false"), "G p");
        assert_eq!(show("p U p"), "p");
        assert_eq!(show("G true & F false"), "false");
    }

    #[test]
    fn unfolding_and_progression() {
        let (mut store, id, atoms) = nnf("G(p -> F q)");
        let unfolded = store.expand(id);
        assert_eq!(store.first_atom(unfolded), Some(0));
        let no_p = store.assign(unfolded, 0, false);
        assert_eq!(store.first_atom(no_p), None);
        assert_eq!(store.successor(no_p), id);
        assert!(store.holds_at_end(no_p));
        let p = store.assign(unfolded, 0, true);
        let p_no_q = store.assign(p, 1, false);
        assert!(!store.holds_at_end(p_no_q));
        let next = store.successor(p_no_q);
        assert_eq!(
            store.to_formula(next, &atoms).to_string(),
            "F q & G(!p | F q)"
        );
    }
}
