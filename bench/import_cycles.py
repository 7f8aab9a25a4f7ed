"""Import cycles in the domain package: module cycles and packages that import each other (issue 11's figure).

The layers contract in pyproject.toml (`lint-imports`) keeps packages from importing upwards; this counts what it
does not see, cycles among the modules of one package too. Run: .venv/bin/python bench/import_cycles.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import grimp

sys.path[:0] = ["layers/common"]


def _components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def run() -> dict[str, object]:
    graph = grimp.build_graph("bridge", cache_dir=None)
    modules = sorted(graph.modules)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) & set(modules) for m in modules}

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for importer, imported in edges.items():
        for target in imported:
            if package(importer) != package(target):
                packages.setdefault(package(importer), set()).add(package(target))
    pairs = sorted({" <-> ".join(sorted((a, b))) for a, bs in packages.items() for b in bs
                    if a in packages.get(b, set())})
    module_cycles = _components(edges)
    return {"modules": len(modules), "module_cycles": module_cycles,
            "modules_in_cycles": sum(map(len, module_cycles)), "package_pairs_importing_each_other": pairs,
            "package_cycles": _components(packages)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
