#!/usr/bin/env python3
"""Reference verdicts for the LTL engine, from two implementations that are not ours.

Writes, under tests/fixtures/ltl/:

* random_pairs.jsonl: random formulas (depth <= 4, every operator) with random traces of
  1 to 20 states, and the LTLf verdict on every prefix of the trace. Each verdict is computed
  twice and must agree: by an evaluator written here straight from the textbook definitions
  (De Giacomo & Vardi 2013, recursive over positions), and by flloat 0.3.0's
  `LTLfFormula.truth` (Favorito et al., https://github.com/whitemech/flloat). Traces carry
  missing fields and fields of the wrong type; atoms follow the engine's documented rule
  (false when the field is missing or mistyped).
* online_status.jsonl: random formulas over independent Boolean fields, with random traces,
  and the online status after each step (satisfied for every continuation, violated for every
  continuation, or undecided), read off the minimal DFA that flloat builds
  (`to_automaton`): satisfied when every state reachable from the current one accepts,
  violated when none does.

Run:  python3 -m venv /tmp/ltl-venv && /tmp/ltl-venv/bin/pip install flloat==0.3.0
      /tmp/ltl-venv/bin/python scripts/make_ltl_fixtures.py
"""

import json
import math
import os
import random
import signal
import sys
from functools import lru_cache

from flloat.ltlf import (
    LTLfAlways,
    LTLfAnd,
    LTLfAtomic,
    LTLfEquivalence,
    LTLfEventually,
    LTLfFalse,
    LTLfImplies,
    LTLfNext,
    LTLfNot,
    LTLfOr,
    LTLfRelease,
    LTLfTrue,
    LTLfUntil,
)
from sympy import Not, Or
from sympy.logic.inference import satisfiable

SEED = 20240505
PAIRS = 1200
STATUS_FORMULAS = 300
MAX_DEPTH = 4
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "ltl")

# ---------------------------------------------------------------------------------------------
# Atoms and the engine's rule: an atom is false when its field is missing or has a type it
# cannot use. Bare names take booleans and numbers (true / non-zero), orderings take numbers,
# == and != take a value of the literal's type.

# (text written in the formula, field, test, literal)
ATOMS = [
    ("p", "p", "truthy", None),
    ("q", "q", "truthy", None),
    ("r", "r", "truthy", None),
    ("x > 2", "x", ">", 2),
    ("x <= 1", "x", "<=", 1),
    ("x == 3", "x", "==", 3),
    ("2 < x", "x", ">", 2),  # a literal first: the same atom as `x > 2`
    ("x != 0", "x", "!=", 0),
    ("latency >= 12.5", "latency", ">=", 12.5),
    ("latency < 50", "latency", "<", 50),
    ('s == "ok"', "s", "==", "ok"),
    ('s != "err"', "s", "!=", "err"),
    ('status == "ok"', "status", "==", "ok"),
]


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def atom_holds(atom, state):
    _, field, test, literal = atom
    if field not in state:
        return False
    v = state[field]
    if test == "truthy":
        if isinstance(v, bool):
            return v
        return is_number(v) and v != 0
    if isinstance(literal, str):
        if not isinstance(v, str):
            return False
        return (v == literal) if test == "==" else (v != literal)
    if not is_number(v):
        return False
    return {
        "==": v == literal,
        "!=": v != literal,
        "<": v < literal,
        "<=": v <= literal,
        ">": v > literal,
        ">=": v >= literal,
    }[test]


# ---------------------------------------------------------------------------------------------
# Formulas as tuples: ("atom", i), ("true",), ("false",), (op, a) for ! X F G,
# (op, a, b) for & | -> <-> U R W.

UNARY = ["!", "X", "F", "G"]
BINARY = ["&", "|", "->", "<->", "U", "R", "W"]
LEVEL = {"<->": 1, "->": 2, "|": 3, "&": 4, "U": 5, "R": 5, "W": 5}
RIGHT_ASSOC = {2, 5}


def random_formula(rng, depth, atom_count, root=True):
    if depth == 0 or (not root and rng.random() < 0.2):
        roll = rng.random()
        if roll < 0.06:
            return ("true",)
        if roll < 0.12:
            return ("false",)
        return ("atom", rng.randrange(atom_count))
    if rng.random() < 0.4:
        return (rng.choice(UNARY), random_formula(rng, depth - 1, atom_count, False))
    return (
        rng.choice(BINARY),
        random_formula(rng, depth - 1, atom_count, False),
        random_formula(rng, depth - 1, atom_count, False),
    )


def depth_of(f):
    if f[0] in ("atom", "true", "false"):
        return 0
    return 1 + max(depth_of(x) for x in f[1:])


def operators_of(f, found):
    if f[0] not in ("atom", "true", "false"):
        found.add(f[0])
        for x in f[1:]:
            operators_of(x, found)
    return found


def level(f):
    if f[0] in ("atom", "true", "false"):
        return 7
    if f[0] in UNARY:
        return 6
    return LEVEL[f[0]]


def show(f, atoms, rng):
    """The formula in the engine's syntax, with the parentheses its documented precedence needs,
    plus some redundant ones and varied spacing, so the fixtures exercise the parser."""
    kind = f[0]
    if kind == "atom":
        return atoms[f[1]][0]
    if kind in ("true", "false"):
        return kind
    if kind in UNARY:
        inner = wrap(show(f[1], atoms, rng), level(f[1]) < 6, rng)
        if kind == "!" or inner.startswith("(") or inner.startswith("!"):
            sep = rng.choice(["", " "])
        else:
            sep = " "
        return kind + sep + inner
    op, a, b = f
    lv = LEVEL[op]
    right_assoc = lv in RIGHT_ASSOC
    left = wrap(show(a, atoms, rng), level(a) < lv or (level(a) == lv and right_assoc), rng)
    right = wrap(show(b, atoms, rng), level(b) < lv or (level(b) == lv and not right_assoc), rng)
    if op in ("U", "R", "W"):
        sep = " "
    else:
        sep = rng.choice([" ", " ", "", "  "])
    return left + sep + op + sep + right


def wrap(text, needed, rng):
    """Parenthesises a subformula when precedence needs it, and now and then when it does not."""
    if needed or rng.random() < 0.05:
        return "(" + text + ")"
    return text


def textbook(f, trace, atoms):
    """LTLf truth at position 0, by the definitions over positions (De Giacomo & Vardi 2013)."""
    n = len(trace)

    @lru_cache(maxsize=None)
    def holds(node, i):
        kind = node[0]
        if kind == "true":
            return True
        if kind == "false":
            return False
        if kind == "atom":
            return atom_holds(atoms[node[1]], trace[i])
        if kind == "!":
            return not holds(node[1], i)
        if kind == "X":
            return i + 1 < n and holds(node[1], i + 1)
        if kind == "F":
            return any(holds(node[1], j) for j in range(i, n))
        if kind == "G":
            return all(holds(node[1], j) for j in range(i, n))
        a, b = node[1], node[2]
        if kind == "&":
            return holds(a, i) and holds(b, i)
        if kind == "|":
            return holds(a, i) or holds(b, i)
        if kind == "->":
            return (not holds(a, i)) or holds(b, i)
        if kind == "<->":
            return holds(a, i) == holds(b, i)
        if kind == "U":
            return any(holds(b, j) and all(holds(a, k) for k in range(i, j)) for j in range(i, n))
        if kind == "R":
            return all(holds(b, j) or any(holds(a, k) for k in range(i, j)) for j in range(i, n))
        if kind == "W":
            until = any(holds(b, j) and all(holds(a, k) for k in range(i, j)) for j in range(i, n))
            return until or all(holds(a, j) for j in range(i, n))
        raise ValueError(kind)

    return holds(f, 0)


def to_flloat(f, symbol_of):
    kind = f[0]
    if kind == "true":
        return LTLfTrue()
    if kind == "false":
        return LTLfFalse()
    if kind == "atom":
        return LTLfAtomic(symbol_of(f[1]))
    if kind in UNARY:
        a = to_flloat(f[1], symbol_of)
        return {"!": LTLfNot, "X": LTLfNext, "F": LTLfEventually, "G": LTLfAlways}[kind](a)
    a, b = to_flloat(f[1], symbol_of), to_flloat(f[2], symbol_of)
    if kind == "W":
        # flloat has no weak until: a W b = (a U b) | G a.
        return LTLfOr([LTLfUntil([a, b]), LTLfAlways(a)])
    make = {
        "&": LTLfAnd,
        "|": LTLfOr,
        "->": LTLfImplies,
        "<->": LTLfEquivalence,
        "U": LTLfUntil,
        "R": LTLfRelease,
    }[kind]
    return make([a, b])


def atom_symbol(i):
    # flloat's symbols are lower-case identifiers; atoms that are the same proposition (`x > 2`
    # and `2 < x`) share one.
    text, field, test, literal = ATOMS[i]
    key = ATOMS.index(next(a for a in ATOMS if a[1:] == (field, test, literal)))
    return "a%d" % key


def flloat_truth(f, trace):
    formula = to_flloat(f, atom_symbol)
    interpretations = [
        {atom_symbol(i): atom_holds(ATOMS[i], state) for i in range(len(ATOMS))} for state in trace
    ]
    return formula.truth(interpretations, 0)


def random_value(rng, kind):
    roll = rng.random()
    if roll < 0.12:
        return None  # missing
    if kind == "flag":
        if roll < 0.75:
            return rng.random() < 0.5
        if roll < 0.9:
            return rng.choice([0, 1, 2, -2.5])
        return rng.choice(["yes", "ok"])
    if kind == "number":
        if roll < 0.8:
            return rng.choice([-1, 0, 1, 2, 2.5, 3, 4])
        if roll < 0.9:
            return rng.random() < 0.5
        return "3"
    if kind == "latency":
        if roll < 0.85:
            return round(rng.uniform(0, 80), 1)
        return rng.choice([True, "slow"])
    # text
    if roll < 0.85:
        return rng.choice(["ok", "err", "wait"])
    return rng.choice([0, 1, False])


FIELDS = [
    ("p", "flag"),
    ("q", "flag"),
    ("r", "flag"),
    ("x", "number"),
    ("latency", "latency"),
    ("s", "text"),
    ("status", "text"),
]


def random_state(rng):
    state = {}
    for name, kind in FIELDS:
        v = random_value(rng, kind)
        if v is not None:
            state[name] = v
    return state


def make_pairs(rng):
    rows = []
    seen_ops = set()
    mismatches = 0
    while len(rows) < PAIRS:
        f = random_formula(rng, rng.randint(1, MAX_DEPTH) if rng.random() < 0.2 else MAX_DEPTH, len(ATOMS))
        length = rng.randint(1, 20)
        trace = [random_state(rng) for _ in range(length)]
        verdicts = []
        for k in range(1, length + 1):
            ours = textbook(f, trace[:k], ATOMS)
            theirs = flloat_truth(f, trace[:k])
            if ours != theirs:
                mismatches += 1
                print("MISMATCH", f, trace[:k], ours, theirs, file=sys.stderr)
            verdicts.append(ours)
        operators_of(f, seen_ops)
        rows.append(
            {
                "formula": show(f, ATOMS, rng),
                "depth": depth_of(f),
                "trace": trace,
                "verdict": verdicts[-1],
                "prefix_verdicts": verdicts,
            }
        )
    missing = set(UNARY + BINARY) - seen_ops
    if missing or mismatches:
        sys.exit("operators never used: %s; mismatches: %d" % (missing, mismatches))
    return rows


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


def online_statuses(f, trace):
    """Per step: (status, holds if the trace ended there), from flloat's minimal DFA."""
    dfa = to_flloat(f, lambda i: "abc"[i]).to_automaton().complete()
    edges = {}
    for s in dfa.states:
        for _, guard, target in dfa.get_transitions_from(s):
            if satisfiable(guard) is not False:
                edges.setdefault(s, set()).add(target)

    def reachable(s):
        seen, todo = {s}, [s]
        while todo:
            for t in edges.get(todo.pop(), ()):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    state = dfa.initial_state
    steps = []
    for letter in trace:
        symbol = {"abc"[i]: letter[name] for i, name in enumerate("pqr")}
        successors = dfa.get_successors(state, symbol)
        assert len(successors) == 1, (f, state, symbol, successors)
        state = next(iter(successors))
        future = reachable(state)
        accepting = dfa.accepting_states
        if future <= accepting:
            status = "satisfied"
        elif not (future & accepting):
            status = "violated"
        else:
            status = "undecided"
        steps.append({"status": status, "holds_if_ended": state in accepting})
    return steps


def make_statuses(rng):
    rows = []
    bool_atoms = [("p", "p", "truthy", None), ("q", "q", "truthy", None), ("r", "r", "truthy", None)]
    signal.signal(signal.SIGALRM, on_alarm)
    skipped = 0
    while len(rows) < STATUS_FORMULAS:
        f = random_formula(rng, rng.randint(2, MAX_DEPTH), 3)
        length = rng.randint(1, 12)
        trace = [{name: rng.random() < 0.5 for name in "pqr"} for _ in range(length)]
        signal.alarm(20)
        try:
            steps = online_statuses(f, trace)
        except Timeout:
            skipped += 1
            continue
        except Exception:  # flloat 0.3.0's delta raises on some nested negations; skip those
            skipped += 1
            continue
        finally:
            signal.alarm(0)
        for k, step in enumerate(steps):
            assert step["holds_if_ended"] == textbook(f, trace[: k + 1], bool_atoms), (f, k)
        decided = next((k for k, s in enumerate(steps) if s["status"] != "undecided"), None)
        rows.append(
            {
                "formula": show(f, bool_atoms, rng),
                "trace": trace,
                "steps": steps,
                "decided_at": decided,
            }
        )
    print("skipped %d formulas flloat could not turn into an automaton" % skipped)
    return rows


def write(name, rows):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
    print("wrote %d rows to %s" % (len(rows), os.path.join(OUT, name)))


def main():
    rng = random.Random(SEED)
    write("random_pairs.jsonl", make_pairs(rng))
    write("online_status.jsonl", make_statuses(rng))


if __name__ == "__main__":
    main()
