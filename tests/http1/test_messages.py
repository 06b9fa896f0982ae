"""The transport's request type, and the rule that the transport imports nothing of the app."""

from __future__ import annotations

import ast
from pathlib import Path

import moorings.http1
from moorings.http1.messages import Request


def test_header_is_the_first_value_of_a_lower_case_name() -> None:
    request = Request("GET", b"/a", [(b"x-a", b"1"), (b"x-a", b"2"), (b"x-b", b"3")], b"")
    assert request.header(b"x-a") == b"1"
    assert request.header(b"x-c") is None


def test_shown_path_is_printable_and_bounded() -> None:
    request = Request("GET", b"/\xff" + b"a" * 500, [], b"")
    shown = request.shown_path
    assert len(shown) == 200 and shown.startswith("/\ufffd")


def test_the_transport_imports_only_itself_and_libraries() -> None:
    package = Path(moorings.http1.__file__).parent
    imported: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    moorings_modules = {name for name in imported if name.split(".")[0] == "moorings"}
    assert moorings_modules, "the scan found the package's own imports"
    assert all(name.startswith("moorings.http1") for name in moorings_modules), moorings_modules
