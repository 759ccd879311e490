"""The layout's rules, checked on every import of every module in ``watcher/``.

Dependencies point one way (``cli -> app -> web -> daemon -> cycle -> slack ->
alerts -> store/registry -> config -> core``); ``core/`` is pure; only the
composition root and the CLI pick concrete adapters; only the CLI imports the
composition root. A module that breaks a rule fails here with its name and
the import that broke it.

The tests have a layout too: ``tests/<package>/`` per subpackage, helpers and
test-only doubles in ``tests/support/`` (never in the installed package, which
keeps in ``watcher/testing/`` only what it runs itself: the demo's registry
double and samples), and the package never imports the tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "watcher"
TESTS = PACKAGE.parent / "tests"
SUPPORT = TESTS / "support"
NOT_PACKAGES = ("fixtures", "golden", "__pycache__")  # data folders under tests/

# Lower ranks are lower layers; a module may import its own rank or below, but
# two different packages of the same rank (store, registry) may not import each other.
RANKS = {
    "watcher": 0,
    "watcher.timeutil": 0,
    "watcher.neterrors": 0,
    "watcher.core": 0,
    "watcher.config": 1,
    "watcher.store": 2,
    "watcher.registry": 2,
    "watcher.alerts": 3,
    "watcher.slack": 4,
    "watcher.cycle": 5,
    "watcher.daemon": 6,
    "watcher.web": 7,
    "watcher.testing": 7,
    "watcher.channels": 7,
    "watcher.app": 8,
    "watcher.memory": 8,
    "watcher.cli": 9,
    "watcher.__main__": 10,
}
# Implementations behind an extension point, servers and doubles: chosen by the root only.
ADAPTERS = (
    "watcher.alerts.console",
    "watcher.alerts.email",
    "watcher.alerts.teams",
    "watcher.alerts.webhook",
    "watcher.slack.client",
    "watcher.slack.notifier",
    "watcher.slack.bolt_app",
    "watcher.slack.socket_mode",
    "watcher.web.server",
    "watcher.testing",
)
ROOT_USERS = ("watcher.app", "watcher.channels", "watcher.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def group(name: str) -> str:
    """The layout unit a module belongs to (its subpackage, or itself at top level)."""
    for prefix in sorted(RANKS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    raise AssertionError(f"{name} is in no layer; add it to RANKS")


def imports(path: Path, package: str = "watcher") -> Iterator[tuple[int, str]]:
    """Every ``package`` module a file imports (anywhere in it), with the line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name == package or name.startswith(package + "."):
                    yield node.lineno, name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package or alias.name.startswith(package + "."):
                    yield node.lineno, alias.name


def real_module(name: str) -> str:
    """``watcher.store.Store`` -> ``watcher.store`` (the longest prefix that is a module)."""
    parts = name.split(".")
    while parts:
        candidate = PACKAGE.parent.joinpath(*parts)
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return ".".join(parts)
        parts.pop()
    raise AssertionError(f"no module for {name}")


MODULES = sorted(PACKAGE.rglob("*.py"))
CHANNEL_MODULES = tuple(
    sorted(
        {real_module(name) for _, name in imports(PACKAGE / "channels.py")}
        - {"watcher.alerts.channel"}
    )
)
"""The modules of the registered channel kinds (what ``watcher/channels.py`` lists): adapters
like those above, so a new channel is held to the same rule without a line here."""
SUPPORT_MODULES = sorted(SUPPORT.rglob("*.py"))


def edges() -> Iterator[tuple[str, int, str]]:
    for path in MODULES:
        importer = module_name(path)
        for line, name in imports(path):
            yield importer, line, real_module(name)


def test_every_module_is_in_a_layer() -> None:
    for path in MODULES:
        group(module_name(path))


def test_no_import_runs_up_the_layers() -> None:
    broken = []
    for importer, line, imported in edges():
        source, target = group(importer), group(imported)
        if source == target or target == "watcher":
            continue
        if RANKS[target] > RANKS[source] or (RANKS[target] == RANKS[source]):
            broken.append(f"{importer}:{line} imports {imported}")
    assert broken == []


def test_core_imports_no_adapter() -> None:
    offending = [
        f"{importer}:{line} imports {imported}"
        for importer, line, imported in edges()
        if group(importer) == "watcher.core" and group(imported) != "watcher.core"
    ]
    assert offending == []


def test_only_the_root_and_the_cli_pick_concrete_adapters() -> None:
    offending = [
        f"{importer}:{line} imports {imported}"
        for importer, line, imported in edges()
        if imported.startswith((*ADAPTERS, *CHANNEL_MODULES))
        and not importer.startswith(ROOT_USERS)
        and group(importer) != group(imported)
    ]
    assert offending == []


def test_the_registry_lists_the_channel_modules() -> None:
    assert "watcher.alerts.teams" in CHANNEL_MODULES
    assert "watcher.slack.notifier" in CHANNEL_MODULES


def test_only_the_cli_imports_the_composition_root() -> None:
    offending = [
        f"{importer}:{line}"
        for importer, line, imported in edges()
        if imported == "watcher.app" and not importer.startswith("watcher.cli")
    ]
    assert offending == []


def test_the_package_never_imports_the_tests() -> None:
    """``tests`` is not installed: an import of it from ``watcher/`` breaks every install."""
    offending = [
        f"{module_name(path)}:{line} imports {name}"
        for path in MODULES
        for line, name in imports(path, "tests")
    ]
    assert offending == []


def test_the_installed_doubles_are_the_ones_the_package_runs() -> None:
    """Every module of ``watcher/testing`` is imported, directly or not, by the rest of
    the package (the demo); a double only tests or the bench use lives in tests/support."""
    needed: set[str] = set()
    todo = [imported for importer, _, imported in edges() if group(importer) != "watcher.testing"]
    graph: dict[str, set[str]] = {}
    for importer, _, imported in edges():
        graph.setdefault(importer, set()).add(imported)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(graph.get(name, ()))
    testing = {module_name(p) for p in MODULES if group(module_name(p)) == "watcher.testing"}
    assert sorted(testing - needed - {"watcher.testing"}) == []


def test_support_imports_no_test_module() -> None:
    """Helpers sit below the tests: a test module may import one, never the reverse."""
    offending = [
        f"{path.relative_to(TESTS)}:{line} imports {name}"
        for path in SUPPORT_MODULES
        for line, name in imports(path, "tests")
        if not (name == "tests.conftest" or name.startswith(("tests.conftest.", "tests.support")))
    ]
    assert offending == []


def test_every_test_folder_is_a_package() -> None:
    """``tests/<package>/__init__.py`` everywhere: two ``test_x.py`` in two folders then
    never clash, and ``from tests.support import ...`` works under xdist too."""
    folders = [
        d
        for d in sorted(TESTS.rglob("*"))
        if d.is_dir() and not set(d.relative_to(TESTS).parts) & set(NOT_PACKAGES)
    ]
    assert SUPPORT in folders
    assert [str(d.relative_to(TESTS)) for d in folders if not (d / "__init__.py").exists()] == []


@pytest.mark.parametrize(
    "path",
    MODULES + SUPPORT_MODULES,
    ids=lambda p: str(p.relative_to(PACKAGE if p.is_relative_to(PACKAGE) else TESTS)),
)
def test_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= 480, f"{path.name} has grown past ~400 lines: split it"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            is_schema = path.name == "schema.py"  # migrations are SQL scripts, not logic
            assert is_schema or length <= 60, f"{path.name}:{node.lineno} {node.name}()"
