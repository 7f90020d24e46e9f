"""No module-level import cycle anywhere in kassa/: the layers import one way only."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kassa"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """What importing `module` imports at once: its top-level statements (and those under
    `if`/`try` at top level), never imports inside functions or under TYPE_CHECKING."""
    found: set[str] = set()
    for node in _top_level(tree.body):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    statements: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                statements += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            statements += _top_level(node.body)
            for handler in node.handlers:
                statements += _top_level(handler.body)
        else:
            statements.append(node)
    return statements


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _with_parents(name: str, modules: set[str]) -> set[str]:
    # Importing kassa.a.b runs kassa/a/__init__.py first.
    parts = name.split(".")
    return {".".join(parts[:n]) for n in range(1, len(parts) + 1)} & modules


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        imported = _module_level_imports(tree, module, path.name == "__init__.py")
        targets = set().union(*(_with_parents(name, set(paths)) for name in imported))
        graph[module] = targets - {module} - _parents(module)
    return graph


def _parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:n]) for n in range(1, len(parts))}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_level_import_cycle_in_kassa() -> None:
    # given
    graph = import_graph()

    # when
    found = cycles(graph)

    # then
    assert found == [], "modules importing each other at module level: " + "; ".join(
        " <-> ".join(component) for component in found
    )


def test_the_check_sees_a_cycle() -> None:
    # given: a resolver importing the schema that imports it
    graph = import_graph()
    graph["kassa.resolvers.payments"] = graph["kassa.resolvers.payments"] | {"kassa.schema"}

    # then
    assert cycles(graph)
