"""The packages' layering, read from the source with ``ast`` (nothing is imported).

Rules (drawn in docs/architecture.md): ``index`` imports neither ``qa``, ``app`` nor ``benchmarks``;
nothing but the tests imports ``app``; neither ``qa`` nor ``app`` imports ``benchmarks``; no import circle
among the modules of ``index`` and ``qa``. Every import counts, at module level or inside a function, except those under
``if TYPE_CHECKING:`` (never run). An import names the module it loads: ``from qa.answer import Engine``
is an edge to ``qa.answer``, not to the package ``qa``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("index", "qa")


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``line`` of the source's file."""

    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.path}:{self.line})"

    @property
    def path(self) -> str:
        """The importing file, relative to the repository."""
        return str(_sources()[self.source].relative_to(REPO))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _sources() -> dict[str, Path]:
    """Every checked module by dotted name: index/, qa/, app.py, benchmarks/."""
    files = [REPO / "app.py", *sorted((REPO / "benchmarks").glob("*.py"))]
    for package in PACKAGES:
        files += sorted((REPO / package).rglob("*.py"))
    return {_module_name(f): f for f in files}


def _is_type_checking(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    """(dotted name, line) of every import that can run; a relative import keeps its dots."""
    found: list[tuple[str, int]] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            sep = "" if base.endswith(".") or not base else "."
            found += [(f"{base}{sep}{alias.name}", node.lineno) for alias in node.names]
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))
    return found


def _resolve(name: str, importer: str) -> str | None:
    """The checked module that importing ``name`` from ``importer`` loads (None: another library's)."""
    known = _sources()
    if name.startswith("."):
        level = len(name) - len(name.lstrip("."))
        is_package = _sources()[importer].name == "__init__.py"
        base = importer.split(".")[: len(importer.split(".")) - level + is_package]
        name = ".".join([*base, name.lstrip(".")]).strip(".")
    parts = name.split(".")
    if importer.startswith("benchmarks.") and parts[0] not in known and f"benchmarks.{parts[0]}" in known:
        parts = ["benchmarks", *parts]  # a benchmark imports a sibling script by its bare name
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


@cache
def _edges() -> tuple[Edge, ...]:
    edges = set()
    for module, path in _sources().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, line in _imports(tree):
            target = _resolve(name, module)
            if target is not None and target != module:
                edges.add(Edge(module, target, line))
    return tuple(sorted(edges, key=lambda e: (e.source, e.line, e.target)))


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def _violations(source_packages: tuple[str, ...], target_packages: tuple[str, ...]) -> list[str]:
    return [str(e) for e in _edges() if _in(e.source, *source_packages) and _in(e.target, *target_packages)]


def _cycles() -> list[list[Edge]]:
    """One circle through each strongly connected group of index/qa modules (Tarjan's algorithm)."""
    graph: dict[str, list[Edge]] = {}
    for edge in _edges():
        if _in(edge.source, *PACKAGES) and _in(edge.target, *PACKAGES):
            graph.setdefault(edge.source, []).append(edge)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for edge in graph.get(node, []):
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle(min(group), group, graph) for group in groups]


def _circle(start: str, group: set[str], graph: dict[str, list[Edge]]) -> list[Edge]:
    """The shortest path of imports from ``start`` back to itself inside ``group`` (breadth first)."""
    paths: list[list[Edge]] = [[e] for e in graph[start] if e.target in group]
    seen = {start}
    while paths:
        path = paths.pop(0)
        last = path[-1].target
        if last == start:
            return path
        if last in seen:
            continue
        seen.add(last)
        paths += [[*path, e] for e in graph.get(last, []) if e.target in group]
    raise AssertionError(f"no circle through {start}")  # a strongly connected group always has one


def test_the_sources_are_found() -> None:
    modules = _sources()
    assert {"app", "index.settings", "qa.answer", "qa.ui.chat", "benchmarks.fusion_sweep"} <= set(modules)
    assert any(e.source == "qa.answer" and e.target == "index.settings" for e in _edges())


def test_index_imports_only_index() -> None:
    found = _violations(("index",), ("qa", "app", "benchmarks"))
    assert not found, "index/ must not import qa, app or benchmarks:\n" + "\n".join(found)


def test_nothing_imports_app() -> None:
    found = _violations(("index", "qa", "benchmarks"), ("app",))
    assert not found, "only the tests may import app:\n" + "\n".join(found)


def test_qa_and_app_do_not_import_benchmarks() -> None:
    found = _violations(("qa", "app"), ("benchmarks",))
    assert not found, "qa/ and app.py must not import benchmarks:\n" + "\n".join(found)


def test_no_import_circle_in_index_and_qa() -> None:
    circles = _cycles()
    shown = ["\n  ".join(str(edge) for edge in circle) for circle in circles]
    assert not circles, "import circles among index/ and qa/ modules:\n  " + "\n\n  ".join(shown)
