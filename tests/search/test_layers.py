"""search/ reads one way: it imports no front end, repository or dataplane, and has no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import moorings.search

FORBIDDEN = ("moorings.grpc", "moorings.rest", "moorings.repository", "moorings.dataplane")
PACKAGE = Path(moorings.search.__file__).parent


def _imports() -> dict[str, set[str]]:
    """Each module of search/ and the moorings modules it imports (at any depth of the file)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("moorings"):
                if node.module == "moorings.search":
                    found.update(f"moorings.search.{alias.name}" for alias in node.names)
                else:
                    found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("moorings"))
        graph[f"moorings.search.{path.stem}"] = found
    return graph


def test_search_imports_no_front_end_repository_or_dataplane() -> None:
    wrong = {
        module: sorted(name for name in names if name.startswith(FORBIDDEN))
        for module, names in _imports().items()
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_search_has_no_import_cycle() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError(" -> ".join([*path[path.index(module) :], module]))
        if module in done or module not in graph:
            return
        for name in sorted(graph[module]):
            visit(name, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])
