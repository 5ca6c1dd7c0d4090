#!/usr/bin/env python3
"""Check that every import under src/ points down the layer order (STYLE.md, "Layers").

Each file belongs to the layer of its top-level module under src/ (`src/pipeline/x.rs` and
`src/pipeline.rs` are `pipeline`; `src/main.rs` is `main`; `src/lib.rs`, the module tree, is
exempt). A file may use its own layer and the layers below it. The references checked are
`use crate::...` and `pub use crate::...` (each top-level name of a `{...}` group counts), and
`crate::X::...` paths anywhere in code; comments, doc comments and string literals are not
code. `super::` and `self::` stay inside a module and are not checked. In `src/main.rs`,
`midstream::X` names the library's modules and is checked the same way (main is the top
layer, so only unknown modules can fail there).

A file or a referenced module that is not in LAYERS is an error naming it: a new top-level
module gets a place in the table before it gets code.

    python3 scripts/check_layers.py              # check the src/ next to scripts/
    python3 scripts/check_layers.py --root DIR   # check DIR/src
    python3 scripts/check_layers.py --self-test  # check the checker on a small fake tree

Exit status 0 when every import points down, 1 otherwise. Python 3 standard library only.
"""

import argparse
import re
import sys
import tempfile
from pathlib import Path

# Lowest first. Same-layer imports are allowed; anything higher is a violation.
LAYERS = {
    "model": 0,
    "engines": 1,
    "scheduler": 2,
    "trace": 2,
    "sources": 3,
    "transport": 3,
    "publish": 3,  # the publishing library API sits with the sources and the transport
    "pipeline": 4,
    "session": 5,
    "config": 5,
    "tui": 6,
    "headless": 6,
    "bench": 6,
    "main": 7,
    "cli": 7,
}

# Files outside the layer order: the module tree only declares modules.
EXEMPT = {"lib"}

# The binary's files, which reach the library by its crate name.
BINARY_MODULES = {"main"}
LIBRARY_CRATE = "midstream"

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
RAW_STRING_RE = re.compile(r"b?r(#*)\"")


def blank_non_code(text):
    """Return `text` with comments and string/char literal contents replaced by spaces.

    Newlines are kept, so offsets and line numbers stay those of the original.
    """
    out = list(text)
    n = len(text)
    i = 0

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    def ident_char(c):
        return c.isalnum() or c == "_"

    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif c == "/" and nxt == "*":
            # Block comments nest in Rust.
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c in "rb" and (i == 0 or not ident_char(text[i - 1])):
            # Raw strings r"..", r#".."#, br#".."#, and byte strings b"..".
            m = RAW_STRING_RE.match(text, i)
            if m:
                close = '"' + m.group(1)
                end = text.find(close, m.end())
                end = n if end < 0 else end + len(close)
                blank(i, end)
                i = end
            else:
                i += 1  # `b"..."` and `b'x'`: the literal is handled on the next turn
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{e9}') or a lifetime/label ('a, 'static).
            if nxt == "\\":
                j = i + 1
                while j < n and text[j] != "'":
                    j += 2 if text[j] == "\\" else 1
                blank(i, j + 1)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                blank(i, i + 3)
                i += 3
            else:
                i += 1
        elif ident_char(c):
            # The rest of an identifier (or number): `r`, `b` and `'` inside it start nothing.
            while i < n and ident_char(text[i]):
                i += 1
        else:
            i += 1
    return "".join(out)


def split_group(body, base):
    """Split the inside of a `{...}` use group at its top-level commas.

    Returns (item, offset of the item's first non-space character) pairs.
    """
    items, depth, start = [], 0, 0
    for k, ch in enumerate(body + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            item = body[start:k]
            stripped = item.lstrip()
            if stripped.strip():
                items.append((stripped.rstrip(), base + start + len(item) - len(stripped)))
            start = k + 1
    return items


def use_tree_roots(tree, base, roots):
    """Yield (first module name, offset) for every path in a use tree that starts at one of
    `roots` (`crate`, or the library's name in the binary)."""
    tree_s = tree.lstrip()
    base += len(tree) - len(tree_s)
    tree_s = tree_s.rstrip()
    if tree_s.startswith("::"):
        tree_s, base = tree_s[2:], base + 2
    if tree_s.startswith("{") and tree_s.endswith("}"):
        # `use {crate::a, std::b};`
        for item, off in split_group(tree_s[1:-1], base + 1):
            yield from use_tree_roots(item, off, roots)
        return
    m = re.match(r"(" + IDENT + r")\s*::\s*", tree_s)
    if not m or m.group(1) not in roots:
        return
    rest, rest_base = tree_s[m.end():], base + m.end()
    if rest.startswith("{") and rest.endswith("}"):
        # `use crate::{a, b::c, d::{e, f}}`: each item's first name is a top-level module.
        for item, off in split_group(rest[1:-1], rest_base + 1):
            name = re.match(IDENT, item)
            if name and name.group(0) not in ("self", "super"):
                yield name.group(0), off
        return
    name = re.match(IDENT, rest)
    if name:
        yield name.group(0), rest_base


USE_RE = re.compile(
    r"(?<![A-Za-z0-9_])(?:pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]*);", re.DOTALL
)
# `pub(in crate::a)` names an ancestor module, not an import; it is removed first.
VIS_IN_RE = re.compile(r"\bpub\s*\(\s*in\s+[^)]*\)")


def path_re(root):
    """`crate::x` (or `midstream::x`) not preceded by an identifier character, `$` (a macro's
    `$crate`) or `::` (a path inside another crate)."""
    return re.compile(r"(?<![A-Za-z0-9_$:])" + root + r"\s*::\s*(" + IDENT + r")")


def module_of(rel):
    """The top-level module of a path relative to src/ (`pipeline/x.rs` -> `pipeline`)."""
    parts = rel.parts
    if len(parts) == 1:
        return parts[0][:-3] if parts[0].endswith(".rs") else parts[0]
    return parts[0]


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


# Longer source lines are cut in the report, which names the file and line anyway.
SNIPPET_CHARS = 120


def snippet(text, offset):
    """The source line around `offset`, whitespace collapsed, for the report."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    line = " ".join(text[start:end].split())
    return line if len(line) <= SNIPPET_CHARS else line[: SNIPPET_CHARS - 1] + "…"


def check_tree(root):
    """Check root/src. Returns (findings, files checked, imports checked); each finding is
    (path, line, message)."""
    src = Path(root) / "src"
    findings = []
    n_files = n_imports = 0
    if not src.is_dir():
        return [(str(src), 0, "no src/ directory here")], 0, 0
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        module = module_of(rel)
        shown = str(Path("src") / rel)
        if module in EXEMPT and len(rel.parts) == 1:
            continue
        if module not in LAYERS:
            findings.append((shown, 1, f"unknown top-level module `{module}`: "
                             f"give it a layer in LAYERS ({Path(__file__).name})"))
            continue
        try:
            original = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue  # removed while the tree was being walked
        n_files += 1
        layer = LAYERS[module]
        code = blank_non_code(original)
        code = VIS_IN_RE.sub(lambda m: " " * len(m.group(0)), code)
        roots = {"crate"}
        if module in BINARY_MODULES:
            roots.add(LIBRARY_CRATE)

        refs = []  # (target module, offset)
        # use statements first, then blank them so their paths are not counted twice.
        masked = list(code)
        for m in USE_RE.finditer(code):
            refs.extend(use_tree_roots(m.group(1), m.start(1), roots))
            for k in range(m.start(), m.end()):
                if masked[k] != "\n":
                    masked[k] = " "
        masked = "".join(masked)
        for r in sorted(roots):
            for m in path_re(r).finditer(masked):
                refs.append((m.group(1), m.start()))

        for target, offset in sorted(refs, key=lambda t: t[1]):
            if target == module:
                continue  # inside its own module
            line = line_of(original, offset)
            if target not in LAYERS:
                findings.append((shown, line, f"`{snippet(original, offset)}`: unknown "
                                 f"top-level module `{target}`: give it a layer in LAYERS"))
                continue
            n_imports += 1
            if LAYERS[target] > layer:
                findings.append((shown, line, f"`{snippet(original, offset)}`: {module} "
                                 f"(layer {layer}) imports {target} (layer {LAYERS[target]}), "
                                 f"which is above it"))
    return findings, n_files, n_imports


def report(findings, n_files, n_imports, out=sys.stdout):
    for path, line, message in findings:
        print(f"{path}:{line}: {message}", file=out)
    if findings:
        print(f"layers: {len(findings)} problem(s) in {n_files} files, {n_imports} imports",
              file=out)
        return 1
    print(f"layers: {n_files} files, {n_imports} imports, all point down", file=out)
    return 0


SELF_TEST_TREE = {
    "src/lib.rs": "pub mod engines;\npub mod model;\npub mod pipeline;\n",
    # Downward imports, in every form; upward names only in comments and strings.
    "src/engines/mod.rs": (
        "//! Uses [`crate::pipeline::Snapshot`] in a doc comment only.\n"
        "use crate::model::Record;\n"
        "pub use crate::{\n    model::{Value, Catalog},\n    engines::inner,\n};\n"
        "/* crate::pipeline::x /* nested */ crate::pipeline::y */\n"
        "pub(in crate::engines) fn f(r: &Record) -> &'static str {\n"
        "    let _c = '\"';\n"
        "    let _v = crate::model::Value::default();\n"
        "    let _s = r#\"crate::pipeline::\"quoted\"\"#;\n"
        "    \"use crate::pipeline::Run;\"\n"
        "}\n"
    ),
    "src/model/mod.rs": "pub struct Record;\n",
    # The one upward import, as an item of a multi-line group.
    "src/model/value.rs": (
        "use std::fmt;\n"
        "pub use crate::{\n"
        "    model::Record,\n"
        "    engines::inner::Thing,\n"
        "};\n"
    ),
    "src/pipeline/mod.rs": "use crate::engines::f;\nuse super::x;\n",
}


def self_test():
    with tempfile.TemporaryDirectory(prefix="check_layers.") as tmp:
        for rel, text in SELF_TEST_TREE.items():
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        findings, n_files, n_imports = check_tree(tmp)
    found = [(p, line) for p, line, _ in findings]
    expected = [("src/model/value.rs", 4)]
    # Downward: engines -> model (three), pipeline -> engines; upward: model -> engines.
    if found != expected or "imports engines (layer 1)" not in findings[0][2] or n_imports != 5:
        print("check_layers self-test FAILED", file=sys.stderr)
        print(f"  expected {expected} and 5 imports, got {n_imports} imports and:",
              file=sys.stderr)
        for f in findings:
            print(f"  {f}", file=sys.stderr)
        return 1
    print(f"check_layers self-test: ok ({n_files} files, {n_imports} imports, "
          f"caught {found[0][0]}:{found[0][1]} only)")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=Path(__file__).resolve().parent.parent,
                        help="repository root holding src/ (default: this script's ../)")
    parser.add_argument("--self-test", action="store_true",
                        help="check the checker on a temporary fake tree")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    return report(*check_tree(args.root))


if __name__ == "__main__":
    sys.exit(main())
