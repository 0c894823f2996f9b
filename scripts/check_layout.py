#!/usr/bin/env python3
"""The layout check (ARCHITECTURE.md says what it enforces). Fails on:

- an import of a top-level room from a room that is not on a higher layer of ARCHITECTURE.md's
  layer list (so every import cycle between top-level modules fails too), and a top-level room
  the list does not place;
- an import cycle between the direct children (files or folders) of one folder, such as
  `state/embedded.rs` <-> `state/sessions.rs`;
- a file at the `src/` root that ARCHITECTURE.md does not list.

Every `crate::` path counts, wherever it stands: `use`, `pub use` re-exports, inline paths,
test modules. Grouped imports (`use crate::{a::X, b::{c, d}}`) count each member. A name the
crate root (or a folder's `mod.rs`) re-exports counts as the module it comes from. `super::`
from a file directly in a folder counts as an import of its sibling.

Usage: check_layout.py [REPO] [-v]   (REPO: the checkout, default: this script's)
"""
import pathlib
import re
import sys

ARGS = [a for a in sys.argv[1:] if not a.startswith("-")]
VERBOSE = "-v" in sys.argv
ROOT = pathlib.Path(ARGS[0]).resolve() if ARGS else pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def architecture():
    """(layers, root files) from ARCHITECTURE.md's marked blocks; layers: room -> rank (0 = top)."""
    path = ROOT / "ARCHITECTURE.md"
    if not path.exists():
        return None, None
    text = path.read_text()
    layers, root_files = {}, set()
    block = re.search(r"<!-- layers:[^>]*-->\s*```[a-z]*\n(.*?)```", text, re.S)
    if block:
        for rank, line in enumerate(l for l in block.group(1).splitlines() if l.strip()):
            for room in line.split():
                layers[room] = rank
    files = re.search(r"<!-- root-files:[^>]*-->\s*\n(.*?)\n\s*\n", text, re.S)
    if files:
        root_files = set(re.findall(r"`([A-Za-z0-9_]+\.rs)`", files.group(1)))
    return layers, root_files


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def split_top(group: str):
    """The members of a `{...}` use group, split at its top-level commas."""
    parts, depth, cur = [], 0, []
    for ch in group:
        depth += (ch == "{") - (ch == "}")
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def first_segments(text: str, prefix: str):
    """Every first path segment after `prefix::`, expanding `prefix::{a, b::c}` groups."""
    found = []
    for m in re.finditer(re.escape(prefix) + r"::\s*", text):
        rest = text[m.end():]
        if not rest.startswith("{"):
            seg = re.match(IDENT, rest)
            found += [seg.group(0)] if seg else []
            continue
        depth = 0
        for i, ch in enumerate(rest):
            depth += (ch == "{") - (ch == "}")
            if depth == 0:
                found += [s.group(0) for s in (re.match(IDENT, p) for p in split_top(rest[1:i])) if s]
                break
    return found


def reexports_of(path: pathlib.Path):
    """Name -> the child module it is re-exported from, per `pub use child::...;`."""
    names = {}
    if path.exists():
        for m in re.finditer(r"pub(?:\([a-z]+\))?\s+use\s+(" + IDENT + r")::([^;]+);", strip_comments(path.read_text())):
            for name in re.findall(IDENT, m.group(2)):
                names.setdefault(name, m.group(1))
    return names


def cycles(edges, nodes):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            strong(v)
    return found


def describe(title, comp, edges):
    lines = [f"{title}: {' <-> '.join(comp)}"]
    for a in comp:
        for b in comp:
            if b in edges.get(a, {}):
                lines.append(f"    {a} -> {b}: {', '.join(sorted(edges[a][b]))}")
    return "\n".join(lines)


def add_edge(edges, a, b, where):
    edges.setdefault(a, {}).setdefault(b, set()).add(where)


def child_of(folder: pathlib.Path, f: pathlib.Path):
    """The direct child of `folder` that `f` belongs to (`x` for x.rs or x/...); None for mod.rs."""
    rel = f.relative_to(folder)
    if rel.parts == ("mod.rs",):
        return None
    return rel.parts[0][:-3] if len(rel.parts) == 1 else rel.parts[0]


def top_module(f: pathlib.Path):
    rel = f.relative_to(SRC)
    return rel.stem if len(rel.parts) == 1 else rel.parts[0]


def top_level_edges(files, modules):
    reexports = reexports_of(SRC / "lib.rs")
    edges = {}
    for f in files:
        src_mod = top_module(f)
        if src_mod in ("lib", "main"):
            continue
        rel = f.relative_to(SRC)
        text = strip_comments(f.read_text())
        targets = first_segments(text, "crate")
        # `super::` in src/x.rs or src/x/mod.rs climbs to the crate root.
        if len(rel.parts) == 1 or rel.parts[1:] == ("mod.rs",):
            targets += first_segments(text, "super")
        for t in targets:
            t = reexports.get(t, t)
            if t in modules and t != src_mod:
                add_edge(edges, src_mod, t, str(rel))
    return edges


def folder_problems(files):
    problems = []
    for folder in sorted(d for d in SRC.iterdir() if d.is_dir()):
        members = [f for f in files if folder in f.parents]
        children = {c for c in (child_of(folder, f) for f in members) if c}
        reexports = reexports_of(folder / "mod.rs")
        edges = {}
        for f in members:
            src_child = child_of(folder, f)
            if src_child is None:
                continue
            text = strip_comments(f.read_text())
            targets = first_segments(text, "crate::" + folder.name)
            if f.parent == folder:
                targets += first_segments(text, "super")
            for t in targets:
                t = reexports.get(t, t)
                if t in children and t != src_child:
                    add_edge(edges, src_child, t, str(f.relative_to(SRC)))
        problems += [describe(f"import cycle inside src/{folder.name}/", c, edges) for c in cycles(edges, children)]
    return problems


def main() -> int:
    layers, root_files = architecture()
    if layers is None:
        print("layout check: ARCHITECTURE.md is missing", file=sys.stderr)
        return 1
    allowed_root = {"lib.rs", "main.rs"} | root_files
    files = sorted(SRC.rglob("*.rs"))
    modules = {top_module(f) for f in files} - {"lib", "main"}
    problems = []

    for f in sorted(SRC.iterdir()):
        if f.is_file() and f.name not in allowed_root:
            problems.append(f"src/{f.name}: a file at the src/ root that ARCHITECTURE.md does not list "
                            f"({', '.join(sorted(allowed_root))}); move it into a room")
    for room in sorted(modules - layers.keys()):
        problems.append(f"{room}: a top-level room ARCHITECTURE.md does not place on a layer")

    edges = top_level_edges(files, modules)
    problems += [describe("import cycle between top-level modules", c, edges) for c in cycles(edges, modules)]
    for a in sorted(edges):
        for b in sorted(edges[a]):
            if a in layers and b in layers and layers[b] <= layers[a]:
                where = ", ".join(sorted(edges[a][b]))
                problems.append(f"{a} -> {b}: {a} may import only rooms on lower lines of ARCHITECTURE.md ({where})")
    problems += folder_problems(files)

    if VERBOSE:
        for a in sorted(edges):
            print(f"{a} -> {', '.join(sorted(edges[a]))}")
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"layout check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"layout check: {len(modules)} rooms on {len(set(layers.values()))} layers, imports point down, "
          f"no cycle inside a folder, src/ root clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
