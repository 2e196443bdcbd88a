"""The import graph of the three packages: one-way between apps, no circles, no re-exports.

Read from the source with ast, so a new module is covered the day it is added.
Module-level imports make the graph; an import inside a function is a
deliberate late import (AppConfig.ready, a migration) and is not an arrow.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flowauth", "accounts", "tokens")
# flowauth/ is the project: only its URLconf and its settings name the apps.
FLOWAUTH_MAY_IMPORT_APPS = {"flowauth.urls", "flowauth.settings"}


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


MODULES = dict(_modules())


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[: -node.level] if not MODULES[module].name == "__init__.py" else module.split(".")
    return ".".join([*base, node.module] if node.module else base)


def _top_level_imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, in a function) for each import of ``module``, narrowed to the three packages."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(module, child)
                for alias in child.names:
                    candidate = f"{target}.{alias.name}"
                    found.append((candidate if candidate in MODULES else target, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return [(name, line, fn) for name, line, fn in found if name.split(".")[0] in PACKAGES]


IMPORTS = {module: _top_level_imports(module) for module in MODULES}


def _package(module: str) -> str:
    return module.split(".")[0]


def test_the_scan_sees_every_package_and_the_arrows_between_them():
    assert {_package(m) for m in MODULES} == set(PACKAGES)
    # accounts uses tokens: if this arrow vanished the scan itself would be broken.
    assert any(_package(t) == "tokens" for m in MODULES if _package(m) == "accounts" for t, _, _ in IMPORTS[m])


def test_tokens_never_imports_accounts():
    arrows = [
        f"{m}:{line} -> {t}"
        for m in MODULES
        if _package(m) == "tokens"
        for t, line, _ in IMPORTS[m]
        if _package(t) == "accounts"
    ]
    assert arrows == []


def test_flowauth_imports_no_app_but_in_its_urlconf_and_settings():
    arrows = [
        f"{m}:{line} -> {t}"
        for m in MODULES
        if _package(m) == "flowauth" and m not in FLOWAUTH_MAY_IMPORT_APPS
        for t, line, _ in IMPORTS[m]
        if _package(t) in ("accounts", "tokens")
    ]
    assert arrows == []


def _cycles():
    graph = {m: sorted({t for t, _, fn in IMPORTS[m] if not fn and t in MODULES and t != m}) for m in MODULES}
    state, stack, cycles = {}, [], []

    def walk(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for module in graph:
        if module not in state:
            walk(module)
    return cycles


def test_no_import_circle_between_modules():
    assert [" -> ".join(cycle) for cycle in _cycles()] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_re_export_under_noqa(module):
    """A module-level import kept only with ``# noqa: F401`` is a re-export: import from the defining module."""
    lines = MODULES[module].read_text().splitlines()
    offenders = [
        line for name, line, in_function in IMPORTS[module] if not in_function and "noqa: F401" in lines[line - 1]
    ]
    assert offenders == []
