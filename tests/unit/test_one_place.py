"""One place per concept: the codebase itself is checked, so a second copy of a concept fails here.

- a failure mode is spelt only in the catalogue (everyone else uses `Mode`);
- every module's `__all__` covers what other modules import from it, and names only what it defines;
- no module of the library or the plugin grows past what one reader holds in mind.
"""

from __future__ import annotations

import ast
import functools
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthetics.catalogue import Mode

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("synthetics", "fixtures", "checks")
MAX_MODULE_LINES = 400


def _sources(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((REPO / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_failure_mode_is_spelt_outside_the_catalogue() -> None:
    names = {mode.value for mode in Mode}
    found = []
    for path in _sources(*PACKAGES):
        if path == REPO / "synthetics" / "catalogue.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert not found, "use synthetics.catalogue.Mode instead:\n" + "\n".join(found)


@functools.cache
def _imports_from_the_project(path: Path) -> tuple[tuple[str, str, int], ...]:
    """(module, name, line) for each `from module import name` of the project's own modules."""
    return tuple(
        (node.module, alias.name, node.lineno)
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        if node.module.split(".")[0] in ("synthetics", "fixtures", "stack")
        for alias in node.names
    )


def _is_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def test_every_public_module_exports_exactly_what_it_defines_and_others_import() -> None:
    problems = []
    importers = [*_sources(*PACKAGES, "tests", "stack")]
    for path in _sources("synthetics", "fixtures"):
        name = _module_name(path)
        if _is_private(name):
            continue
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            if path.name != "__init__.py" and any(
                imported == name for importer in importers for imported, _, _ in _imports_from_the_project(importer)
            ):
                problems.append(f"{name} is imported from but has no __all__")
            continue
        problems += [
            f"{name}.__all__ names {entry!r}, which it does not define"
            for entry in exported
            if not hasattr(module, entry)
        ]
        for importer in importers:
            for imported, entry, line in _imports_from_the_project(importer):
                if imported == name and entry not in exported and not hasattr_submodule(name, entry):
                    problems.append(
                        f"{importer.relative_to(REPO)}:{line} imports {entry!r} from {name}, not in its __all__"
                    )
    assert not problems, "\n".join(problems)


def hasattr_submodule(package: str, entry: str) -> bool:
    try:
        importlib.import_module(f"{package}.{entry}")
    except ImportError:
        return False
    return True


def test_private_modules_are_imported_only_inside_their_package() -> None:
    problems = []
    for importer in _sources(*PACKAGES, "tests"):
        own_package = (
            _module_name(importer).rsplit(".", 1)[0] if importer.name != "__init__.py" else _module_name(importer)
        )
        for imported, _entry, line in _imports_from_the_project(importer):
            if imported.startswith("stack"):
                continue  # the reference deployment's own internals are the tests' to drive
            if _is_private(imported) and imported.rsplit(".", 1)[0] != own_package:
                problems.append(f"{importer.relative_to(REPO)}:{line} imports the private {imported}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", ["synthetics", "fixtures"])
def test_no_module_is_too_long_to_read_at_once(package: str) -> None:
    long = [
        f"{path.relative_to(REPO)}: {lines} lines"
        for path in _sources(package)
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"split these by subject (at most {MAX_MODULE_LINES} lines each): {long}"
