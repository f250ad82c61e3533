"""The import graph of seedqa's packages, drawn from the source (imports inside functions count).

Run `python -m tests.import_graph` for the package-level graph and any cycles, `--modules` for
every module edge, `--dot` for Graphviz. `tests/unit/test_layers.py` checks the layering rules on
the same graph, so the picture in the README cannot drift from the code.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("qa", "embeddings", "ui")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """`{dotted module name: file}` for every module of our packages."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that `path` imports anywhere in its body (top level or inside functions).

    `from pkg import name` counts as an import of `pkg.name` when that is a module, else of `pkg`;
    the implicit import of a parent package's `__init__` is not counted (as pydeps does).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _ours(a.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not _ours(node.module):
                continue
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in modules else node.module)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = module_files(root)
    return {m: imports_of(f, modules) - {m} for m, f in modules.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
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
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def layer(module: str) -> str:
    """The layer a module belongs to, for the package-level picture."""
    parts = module.split(".")
    if parts[0] == "qa" and len(parts) > 1 and parts[1] in ("core", "stores", "loaders"):
        return f"qa.{parts[1]}"
    return parts[0]


def layer_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for m, deps in g.items():
        out[layer(m)].update(layer(d) for d in deps if layer(d) != layer(m))
    return dict(out)


def main(argv: list[str]) -> int:
    g = graph()
    if "--dot" in argv:
        print("digraph seedqa {")
        for m, deps in sorted(layer_graph(g).items()):
            for d in sorted(deps):
                print(f'  "{m}" -> "{d}";')
        print("}")
        return 0
    shown = g if "--modules" in argv else layer_graph(g)
    for m, deps in sorted(shown.items()):
        print(f"{m} -> {', '.join(sorted(deps)) or '(nothing of ours)'}")
    found = cycles(g)
    print(f"\n{len(g)} modules, {sum(map(len, g.values()))} import edges, "
          f"{len(found)} cycles" + "".join(f"\n  cycle: {' -> '.join(c)}" for c in found))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
