"""What import-linter cannot check: no two modules import each other through any chain (a cycle), every
package is in a layer, sizes a reader can hold in mind, one blueprint per module that owns routes, and no
view module importing another. The layers themselves are written once, in pyproject.toml (`make lint`)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast  # needs no service: the fast tier (make test-fast)

APP = Path(__file__).resolve().parent.parent / "app"

PYPROJECT = APP.parent / "pyproject.toml"
MAX_MODULES_IN_APP = 5  # the factory, the worker entry point and what truly belongs to no feature


def layer_contract() -> list[str]:
    """The layers as import-linter's contract in pyproject.toml writes them (the only place they are written)."""
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["id"] == "layers")
    return [name.strip() for layer in layers for name in layer.split("|")]


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


def test_every_package_and_module_of_app_is_in_a_layer():
    named = set(layer_contract())
    found = {module_name(p) for p in APP.glob("*.py")} | {f"app.{p.parent.name}" for p in APP.glob("*/__init__.py")}
    assert found - {"app"} <= named, "add it to the layers in pyproject.toml"


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


MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 500, 200, 50


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


def test_the_fake_replicate_server_keeps_the_same_sizes_as_app():
    assert oversized(APP.parent / "tests" / "replicate_server") == []


def test_the_size_check_can_fail(tmp_path):
    root = tmp_path / "app"
    root.mkdir()
    (root / "long.py").write_text("def f():\n" + "    x = 1\n" * 60)
    assert oversized(root) == ["FunctionDef app/long.py:f: 61 lines"]


def test_app_holds_at_most_five_modules_besides_its_packages():
    modules = sorted(p.name for p in APP.glob("*.py"))
    assert len(modules) <= MAX_MODULES_IN_APP, modules


def routes_added_to_other_modules_blueprints(root: Path = APP) -> list[str]:
    """`@x.bp.route`, `@x.bp.get`… where `x` is another module: a route added by importing a module."""
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        if target.value.id == "bp" and not defines_bp(path):
                            found.append(f"{module_name(path, root)}:{node.name}")
    return found


def defines_bp(path: Path) -> bool:
    return any(
        isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "bp" for t in node.targets)
        for node in ast.parse(path.read_text()).body
    )


def test_every_route_is_on_its_own_modules_blueprint():
    assert routes_added_to_other_modules_blueprints() == []


def test_the_blueprint_check_can_fail(tmp_path):
    root = tmp_path / "app"
    root.mkdir()
    (root / "views_a.py").write_text("bp = make()\n")
    (root / "views_b.py").write_text("from app.views_a import bp\n\n@bp.get('/b')\ndef b():\n    pass\n")
    assert routes_added_to_other_modules_blueprints(root) == ["app.views_b:b"]


def test_no_view_module_imports_another():
    """A module that owns routes (defines `bp`) imports no other: what two share is a presenter of its own."""
    views = {module_name(p) for p in APP.rglob("*.py") if defines_bp(p)}
    assert len(views) >= 15, sorted(views)
    crossing = [f"{m} imports {t}" for m, targets in graph().items() if m in views for t in targets if t in views]
    assert crossing == []


def imports_of_test_modules(root: Path) -> list[str]:
    """`file: module` for every import, anywhere under root, of a test module (tests.test_* or tests/**/test_*):
    what two test modules share belongs in a helper module (helpers, factories, …) or a conftest fixture."""

    def is_test_module(name: str) -> bool:
        return name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")

    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            found += [f"{path.relative_to(root)}: {name}" for name in names if is_test_module(name)]
    return found


def test_no_module_under_tests_imports_a_test_module():
    assert imports_of_test_modules(APP.parent / "tests") == []


def test_the_test_module_import_check_can_fail(tmp_path):
    (tmp_path / "test_a.py").write_text("from tests.test_b import seed\nimport tests.sub.test_c\n")
    (tmp_path / "helpers.py").write_text("from tests import test_d\nfrom tests.factories import seed\n")
    assert imports_of_test_modules(tmp_path) == [
        "helpers.py: tests.test_d",
        "test_a.py: tests.test_b",
        "test_a.py: tests.sub.test_c",
    ]


# Folders of tests/ that are not a package of app/: the browser tier (Chromium), the benchmarks, the fake
# Replicate server and its schemas. A test about the whole product (the first run, the docs, these rules) sits at
# tests/ itself.
NOT_A_PACKAGE = {"browser", "benchmarks", "replicate_server", "replicate_schemas"}


def folders_not_mirroring_a_package(tests: Path, app: Path) -> list[str]:
    """Each folder of `tests` holding test modules whose name is no package of `app` (nor in NOT_A_PACKAGE)."""
    packages = {p.parent.name for p in app.glob("*/__init__.py")}
    folders = {p.parent.name for p in tests.glob("*/test_*.py")}
    return sorted(folders - packages - NOT_A_PACKAGE)


def test_the_tests_folders_mirror_the_packages_of_app():
    assert folders_not_mirroring_a_package(APP.parent / "tests", APP) == []


def test_the_mirror_check_can_fail(tmp_path):
    for folder in ("app/gallery", "tests/gallery", "tests/galleries", "tests/browser"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "app/gallery/__init__.py").write_text("")
    for test in ("gallery/test_a.py", "galleries/test_b.py", "browser/test_c.py"):
        (tmp_path / "tests" / test).write_text("")
    assert folders_not_mirroring_a_package(tmp_path / "tests", tmp_path / "app") == ["galleries"]
