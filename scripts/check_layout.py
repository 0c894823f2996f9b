#!/usr/bin/env python3
"""Layout check (see ARCHITECTURE.md): fails on an import cycle between top-level modules of
src/ and on a file at the src/ root outside the allowed list.

Every `crate::` path counts, wherever it stands (a `use`, a `pub use` re-export, an inline
path), and so does `super::` from a file directly under a top-level module's folder root when
it climbs to the crate root. Grouped imports (`use crate::{a::X, b::{c, d}}`) count each
member. A path through a re-export at the crate root (`crate::Gateway`) counts as the module
that lib.rs re-exports it from.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
# Files allowed at the src/ root: ARCHITECTURE.md names them.
ALLOWED_ROOT_FILES = {"lib.rs", "main.rs", "gateway.rs", "app.rs", "error.rs"}

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        # Drop // comments (including doc comments); string literals holding "//" are rare
        # enough here and only ever make the check stricter.
        i = line.find("//")
        out.append(line if i < 0 else line[:i])
    return "\n".join(out)


def split_top(group: str):
    """Split the inside of a `{...}` use group at top-level commas."""
    parts, depth, cur = [], 0, []
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def first_segments(text: str, prefix: str):
    """Every first path segment after `prefix::` (expanding `prefix::{a, b::c}` groups)."""
    found = []
    for m in re.finditer(re.escape(prefix) + r"::\s*", text):
        rest = text[m.end():]
        if rest.startswith("{"):
            depth, end = 0, None
            for i, ch in enumerate(rest):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        end = i
                        break
            if end is None:
                continue
            for part in split_top(rest[1:end]):
                seg = re.match(IDENT, part)
                if seg:
                    found.append(seg.group(0))
        else:
            seg = re.match(IDENT, rest)
            if seg:
                found.append(seg.group(0))
    return found


def top_module(path: pathlib.Path):
    rel = path.relative_to(SRC)
    if len(rel.parts) == 1:
        return rel.stem
    return rel.parts[0]


def main() -> int:
    problems = []
    files = sorted(SRC.rglob("*.rs"))
    modules = {top_module(f) for f in files} - {"lib", "main"}

    for f in SRC.iterdir():
        if f.is_file() and f.name not in ALLOWED_ROOT_FILES:
            problems.append(f"src/{f.name}: file at the src/ root outside the allowed list "
                            f"({', '.join(sorted(ALLOWED_ROOT_FILES))}); move it into a room")

    lib = strip_comments((SRC / "lib.rs").read_text())
    reexports = {}
    for m in re.finditer(r"pub\s+use\s+(" + IDENT + r")::([^;]+);", lib):
        module, names = m.group(1), m.group(2)
        for name in re.findall(IDENT, names):
            reexports[name] = module

    edges = {}
    for f in files:
        src_mod = top_module(f)
        if src_mod in ("lib", "main"):
            continue
        text = strip_comments(f.read_text())
        targets = first_segments(text, "crate")
        rel = f.relative_to(SRC)
        # `super::` from a top-level module's own file (src/x.rs or src/x/mod.rs) or from a
        # file directly inside its folder climbs to the crate root or to the module itself.
        climbs_to_root = len(rel.parts) == 1 or rel.name == "mod.rs" and len(rel.parts) == 2
        if climbs_to_root:
            targets += first_segments(text, "super")
        for t in targets:
            t = reexports.get(t, t)
            if t in modules and t != src_mod:
                edges.setdefault(src_mod, {}).setdefault(t, set()).add(str(rel))

    # Cycles: strongly connected components of more than one module.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

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
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            strong(v)

    for comp in sccs:
        lines = [f"import cycle between top-level modules: {' <-> '.join(comp)}"]
        for a in comp:
            for b in comp:
                if b in edges.get(a, {}):
                    lines.append(f"    {a} -> {b}: {', '.join(sorted(edges[a][b]))}")
        problems.append("\n".join(lines))

    if "-v" in sys.argv:
        for a in sorted(edges):
            print(f"{a} -> {', '.join(sorted(edges[a]))}")
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"layout check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"layout check: {len(modules)} top-level modules, no import cycle, src/ root clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
