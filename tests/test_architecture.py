"""The layers, checked by walking every module's imports (besides import-linter in `make lint`).

A module may import from its own layer and from layers below it, never from one above, and no
two modules may import each other through any chain (a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

# top to bottom; the same order as the import-linter contract in pyproject.toml
LAYERS = [
    ("app", "app.tasks"),
    ("app.web", "app.cli"),
    ("app.health",),
    ("app.services",),
    ("app.generation",),
    ("app.curation",),  # the domain, in three rows: curation uses the two below, they use the rest
    ("app.gallery_query", "app.model_release", "app.analytics"),
    (
        "app.presets",
        "app.users",
        "app.gallery",
        "app.sessions",
        "app.api_tokens",
        "app.audit",
        "app.spend",
        "app.references",
        "app.registry_sync",
        "app.example_sizes",
    ),
    ("app.selection", "app.gallery_versions"),
    ("app.models", "app.registry"),
    ("app.providers",),
    ("app.storage",),
    ("app.database", "app.config", "app.safe_json", "app.errors"),
    ("app.private_files", "app.s3_settings"),
    ("app.env_values",),
]


def module_name(path: Path, root: Path = APP) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = APP) -> set[str]:
    """Every app.* module this file imports, resolved to full names (relative imports included)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "app")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "app":
                continue
            for alias in node.names:  # `from . import web` imports the module app.web
                candidate = f"{target}.{alias.name}"
                found.add(candidate if module_exists(candidate, root) else target)
    return found


def module_exists(name: str, root: Path = APP) -> bool:
    path = root.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph(root: Path = APP) -> dict[str, set[str]]:
    return {module_name(p, root): imports_of(p, root) for p in root.rglob("*.py")}


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in edges.items()
        for target in targets
        if layer_of(target) < layer_of(module) and not module.startswith(target + ".")
    ]


def layer_of(module: str) -> int:
    """Index of the layer holding `module` (the longest matching prefix wins)."""
    best, best_len = None, -1
    for index, members in enumerate(LAYERS):
        for member in members:
            if (module == member or module.startswith(member + ".")) and len(member) > best_len:
                best, best_len = index, len(member)
    assert best is not None, f"{module} is in no layer: add it to LAYERS and to pyproject's contract"
    return best


def test_every_module_is_in_a_layer():
    for module in graph():
        layer_of(module)


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    assert upward_imports(graph()) == []


def test_no_import_cycle():
    edges = graph()
    # a package's __init__ is imported by its own submodules implicitly, not by an import statement: only
    # statements count, so `app` → `app.web` is an edge but `app.web.api` → `app` is not
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target] if target in path else path + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_walk_catches_an_upward_import(tmp_path):
    """The check can fail: a copy of the tree with `from ..web import api` planted in a generation module."""
    root = tmp_path / "app"
    for path in APP.rglob("*.py"):
        target = root / path.relative_to(APP)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    jobs = root / "generation" / "jobs.py"
    jobs.write_text(jobs.read_text() + "\nfrom ..web import api\n")
    assert upward_imports(graph(root)) == ["app.generation.jobs (layer 4) imports app.web.api (layer 1)"]


def test_no_function_level_imports_without_a_reason():
    """Imports sit at the top of each module; one inside a function needs a comment saying why."""
    found = []
    for path in APP.rglob("*.py"):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and "#" not in lines[inner.lineno - 1]:
                        found.append(f"{path.relative_to(APP.parent)}:{inner.lineno}")
    assert found == []


MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 300, 200, 50


def oversized(root: Path = APP) -> list[str]:
    """Modules, classes and functions over the sizes a reader can hold in mind at once."""
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        name = path.relative_to(root.parent)
        if len(source.splitlines()) > MAX_MODULE_LINES:
            found.append(f"module {name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            limit = {ast.ClassDef: MAX_CLASS_LINES, ast.FunctionDef: MAX_FUNCTION_LINES}.get(type(node))
            if limit is None and isinstance(node, ast.AsyncFunctionDef):
                limit = MAX_FUNCTION_LINES
            if limit is not None:
                size = node.end_lineno - node.lineno + 1
                if size > limit:
                    found.append(f"{type(node).__name__} {name}:{node.name}: {size} lines")
    return found


def test_no_module_class_or_function_is_too_long_to_read():
    assert oversized() == []


def test_the_size_check_can_fail(tmp_path):
    root = tmp_path / "app"
    root.mkdir()
    (root / "long.py").write_text("def f():\n" + "    x = 1\n" * 60)
    assert oversized(root) == ["FunctionDef app/long.py:f: 61 lines"]
