#!/usr/bin/env python3
"""The layout check (ARCHITECTURE.md says what it enforces). Fails on:

- an import of a top-level room from a room that is not on a higher layer of ARCHITECTURE.md's
  layer list (so every import cycle between top-level modules fails too), and a top-level room
  the list does not place;
- an import cycle between the direct children (files or folders) of any folder, at any depth,
  such as `state/embedded.rs` <-> `state/sessions.rs`;
- a folder `mod.rs` with code in it (anything but docs, attributes, `mod` and `use` items),
  except the ones ARCHITECTURE.md names;
- a file at the `src/` root that ARCHITECTURE.md does not list.

Every path counts, wherever it stands (a `use`, a `pub use` re-export, an inline path, a test
module): `crate::`, `super::` (any number of them) and `self::` paths are resolved to the module
they name, grouped imports (`use crate::{a::X, b::{c, d}}`) count each member, and a name that
a module re-exports (`pub use child::Name;`) counts as the child it comes from. Comments and
string literals are skipped, so neither hides nor invents an import.

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
    """The marked blocks of ARCHITECTURE.md: (room -> layer rank, 0 = top), root files, and
    the folder `mod.rs` files allowed to hold code."""
    path = ROOT / "ARCHITECTURE.md"
    if not path.exists():
        return None
    text = path.read_text()

    def block(marker):
        m = re.search(r"<!-- " + marker + r":[^>]*-->\s*\n(.*?)\n\s*\n", text, re.S)
        return m.group(1) if m else ""

    layers = {}
    fence = re.search(r"<!-- layers:[^>]*-->\s*```[a-z]*\n(.*?)```", text, re.S)
    for rank, line in enumerate(l for l in (fence.group(1) if fence else "").splitlines() if l.strip()):
        for room in line.split():
            layers[room] = rank
    root_files = set(re.findall(r"`([A-Za-z0-9_]+\.rs)`", block("root-files")))
    code_mod_rs = set(re.findall(r"`([A-Za-z0-9_/]+/mod\.rs)`", block("mod-rs-with-code")))
    return layers, root_files, code_mod_rs


def code_only(text: str) -> str:
    """The text with comments removed and every string, byte string, raw string and char
    literal emptied, so only code is left to search."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif re.match(r'b?r(#*)"', text[i:i + 40]) and (i == 0 or not re.match(r"[A-Za-z0-9_]", text[i - 1])):
            m = re.match(r'b?r(#*)"', text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            i = n if j < 0 else j + len(close)
            out.append('""')
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not re.match(r"[A-Za-z0-9_]", text[i - 1]))):
            i += 2 if c == "b" else 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}'), or else a lifetime / label.
            m = re.match(r"'(\\(u\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{2}|.)|[^\\'\n])'", text[i:])
            if m:
                i += m.end()
                out.append("' '")
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


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


PATH_START = re.compile(r"(?<![A-Za-z0-9_:])(crate|super|self)\s*::\s*")


def paths_in(code: str):
    """Every path that starts with `crate`, `super` or `self`, as a list of segments, with use
    groups expanded (`crate::{a::X, b::{c, d}}` -> crate/a/X, crate/b/c, crate/b/d)."""
    found = []

    def walk(prefix, rest):
        """`rest` follows `prefix::`: a segment chain, possibly ending in a group."""
        segs = list(prefix)
        while True:
            rest = rest.lstrip()
            if rest.startswith("{"):
                depth = 0
                for i, ch in enumerate(rest):
                    depth += (ch == "{") - (ch == "}")
                    if depth == 0:
                        for member in split_top(rest[1:i]):
                            if member == "self":
                                found.append(segs)
                            else:
                                walk(segs, member)
                        return
                return
            m = re.match(IDENT, rest)
            if not m:
                found.append(segs)
                return
            segs = segs + [m.group(0)]
            rest = rest[m.end():]
            nxt = re.match(r"\s*::\s*", rest)
            if not nxt:
                found.append(segs)
                return
            rest = rest[nxt.end():]

    for m in PATH_START.finditer(code):
        # `super::super::x`: the chain of leading keywords is one path.
        before = code[:m.start()]
        if re.search(r"(crate|super|self)\s*::\s*$", before):
            continue
        walk([m.group(1)], code[m.end():])
    return found


def module_path(f: pathlib.Path):
    """The module a file is: src/a/b.rs -> [a, b]; src/a/mod.rs -> [a]; src/lib.rs -> []."""
    parts = list(f.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "mod" or parts in (["lib"], ["main"]):
        parts = parts[:-1]
    return parts


def resolve(here, segs):
    """An absolute module path for `segs` (starting with crate / super / self) written in the
    module `here`, or None when it climbs above the crate."""
    if segs[0] == "crate":
        return segs[1:]
    base, rest = list(here), segs
    while rest and rest[0] in ("super", "self"):
        if rest[0] == "super":
            if not base:
                return None
            base = base[:-1]
        rest = rest[1:]
    return base + rest


class Tree:
    def __init__(self, files):
        self.files = files
        self.modules = {tuple(module_path(f)) for f in files}
        # Re-exports: (module, name) -> the module path it names.
        self.reexports = {}
        for f in files:
            here = module_path(f)
            for m in re.finditer(r"\bpub(?:\s*\([^)]*\))?\s+use\s+([^;]+);", code_only(f.read_text())):
                tree = m.group(1).strip()
                # A use path not starting with crate / super / self names a child (or an
                # external crate, which resolves to no module of ours and is ignored).
                if not re.match(r"(crate|super|self)\b", tree):
                    tree = "self::" + tree
                for segs in paths_in(tree):
                    target = resolve(here, segs)
                    if target and len(target) > len(here):
                        self.reexports[(tuple(here), target[-1])] = target

    def canonical(self, path):
        """Follows re-exports: `crate::upstream::Upstream` -> upstream/route/Upstream."""
        for _ in range(8):
            for cut in range(len(path) - 1, 0, -1):
                key = (tuple(path[:cut]), path[cut])
                if key in self.reexports and self.reexports[key] != path[:cut + 1]:
                    path = self.reexports[key] + path[cut + 1:]
                    break
            else:
                return path
        return path

    def imports(self):
        """(file, importing module path, imported module path) for every path in the tree."""
        for f in self.files:
            here = module_path(f)
            for segs in paths_in(code_only(f.read_text())):
                target = resolve(here, segs)
                if target:
                    yield f, here, self.canonical(target)


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


def mod_rs_with_code(f: pathlib.Path):
    """True when a folder's mod.rs holds more than docs, attributes, `mod` and `use` items."""
    code = code_only(f.read_text())
    code = re.sub(r"#!?\[[^\]]*\]", "", code)
    code = re.sub(r"\b(pub(\s*\([^)]*\))?\s+)?(mod\s+" + IDENT + r"\s*;|use\s+[^;]+;)", "", code)
    return bool(code.strip())


def main() -> int:
    arch = architecture()
    if arch is None:
        print("layout check: ARCHITECTURE.md is missing", file=sys.stderr)
        return 1
    layers, root_files, code_mod_rs = arch
    allowed_root = {"lib.rs", "main.rs"} | root_files
    files = sorted(SRC.rglob("*.rs"))
    tree = Tree(files)
    rooms = {m[0] for m in tree.modules if m}
    problems = []

    for f in sorted(SRC.iterdir()):
        if f.is_file() and f.name not in allowed_root:
            problems.append(f"src/{f.name}: a file at the src/ root that ARCHITECTURE.md does not list "
                            f"({', '.join(sorted(allowed_root))}); move it into a room")
    for room in sorted(rooms - layers.keys()):
        problems.append(f"{room}: a top-level room ARCHITECTURE.md does not place on a layer")
    for f in files:
        rel = str(f.relative_to(SRC))
        if f.name == "mod.rs" and rel not in code_mod_rs and mod_rs_with_code(f):
            problems.append(f"src/{rel}: a folder's mod.rs declares and re-exports only; move its code into "
                            f"a file named after what it holds")

    top, folders = {}, {}
    for f, here, target in tree.imports():
        where = str(f.relative_to(SRC))
        if here and target and target[0] in rooms and target[0] != here[0]:
            top.setdefault(here[0], {}).setdefault(target[0], set()).add(where)
        # Inside every folder P: an import from child a of P to child b of P.
        for depth in range(min(len(here), len(target))):
            if here[:depth] != target[:depth]:
                break
            if depth < len(here) and depth < len(target) and here[depth] != target[depth]:
                if depth > 0 and tuple(here[:depth]) in tree.modules:
                    folder = "/".join(here[:depth])
                    folders.setdefault(folder, {}).setdefault(here[depth], {}).setdefault(target[depth], set()).add(where)
                break

    problems += [describe("import cycle between top-level modules", c, top) for c in cycles(top, rooms)]
    for a in sorted(top):
        for b in sorted(top[a]):
            if a in layers and b in layers and layers[b] <= layers[a]:
                where = ", ".join(sorted(top[a][b]))
                problems.append(f"{a} -> {b}: {a} may import only rooms on lower lines of ARCHITECTURE.md ({where})")
    for folder in sorted(folders):
        edges = folders[folder]
        nodes = set(edges) | {b for targets in edges.values() for b in targets}
        problems += [describe(f"import cycle inside src/{folder}/", c, edges) for c in cycles(edges, nodes)]

    if VERBOSE:
        for a in sorted(top):
            print(f"{a} -> {', '.join(sorted(top[a]))}")
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"layout check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"layout check: {len(rooms)} rooms on {len(set(layers.values()))} layers, imports point down, "
          f"no cycle inside a folder, mod.rs files declare only, src/ root clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
