"""The import graph of ``src/moorings`` has no cycles (the design's rule), read from the source with ``ast``.

Every ``import moorings.x`` and ``from moorings.x import y`` counts, including those under
``if TYPE_CHECKING:`` and inside functions: a cycle that only a deferred import hides is
still a cycle in the design. ``from package import name`` points at the submodule when
``name`` is one, else at the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src"

#: import cycles allowed to stay, each as its modules in sorted order: none
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in (SOURCE / "moorings").rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    """Each module of ``moorings`` and the ``moorings`` modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in modules else base)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_finder_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [("a", "b", "c")]


def test_no_import_cycles_in_moorings() -> None:
    found = set(cycles(import_graph()))
    assert found - KNOWN_CYCLES == set(), "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


#: (package, packages it must not import): the layers of docs/design.md that point one way
FORBIDDEN = [
    ("moorings.http1", ("moorings.rest", "moorings.grpc", "moorings.dataplane", "moorings.core")),
    ("moorings.http2", ("moorings.rest", "moorings.grpc", "moorings.dataplane", "moorings.core")),
    ("moorings.codecs", ("moorings.dataplane", "moorings.core", "moorings.runtimes", "moorings.rest")),
    ("moorings.search", ("moorings.grpc", "moorings.rest", "moorings.repository", "moorings.dataplane")),
    ("moorings.dataplane", ("moorings.rest", "moorings.grpc", "moorings.http1", "moorings.http2")),
    ("moorings.core", ("moorings.dataplane", "moorings.rest", "moorings.grpc", "moorings.codecs")),
    ("moorings.types", ("moorings.runtimes", "moorings.core", "moorings.codecs", "moorings.dataplane")),
]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_layers_point_one_way() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for package, forbidden in FORBIDDEN
        if _within(module, package)
        for target in targets
        if any(_within(target, f) for f in forbidden)
    ]
    assert wrong == []
