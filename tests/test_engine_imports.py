"""The engine stands alone: no module under nntrain/engine imports anything of nntrain outside engine/, at module
level or inside a function, except the two root utilities every layer of the package uses (errors, registry)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nntrain.engine

ENGINE = Path(nntrain.engine.__file__).parent
ALLOWED = ("nntrain.engine", "nntrain.errors", "nntrain.registry")
MODULES = sorted(ENGINE.rglob("*.py"))


def _package(path: Path) -> str:
    """The dotted package a module file belongs to (what its relative imports start from)."""
    return ".".join(path.relative_to(ENGINE.parent.parent).with_suffix("").parts[:-1])


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, dotted module name) of every import in `source`, relative ones resolved against `package`;
    `from a import b` yields both a and a.b (b may be a module), and import_module("...") / __import__("...")
    with a literal count too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def upward(source: str, package: str) -> list[str]:
    """The imports of `source` that reach outside the engine and the allowed root utilities."""
    bad = []
    for line, module in imported_modules(source, package):
        inside = module != "nntrain" and not module.startswith("nntrain.")
        # `from nntrain import errors` names the package itself too: only the names it imports count
        if not inside and module != "nntrain" and not any(module == ok or module.startswith(ok + ".")
                                                          for ok in ALLOWED):
            bad.append(f"line {line}: {module}")
    return bad


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ENGINE)) for p in MODULES])
def test_engine_module_imports_nothing_above_the_engine(path):
    found = upward(path.read_text(), _package(path))
    assert not found, f"{path.name} imports from outside the engine: {found}"


def test_the_check_sees_function_level_relative_and_dynamic_imports():
    source = ("import numpy\nfrom nntrain.errors import ConfigError\nfrom . import ops\nfrom .layers import Dense\n"
              "def f():\n    from ..training.loop import fit\n    from nntrain import checkpoint, registry\n"
              "    importlib.import_module('nntrain.cli')\n")
    assert upward(source, "nntrain.engine") == [
        "line 6: nntrain.training.loop", "line 6: nntrain.training.loop.fit", "line 7: nntrain.checkpoint",
        "line 8: nntrain.cli"]
    # in a subpackage (engine/layers/), `..` is the engine itself
    assert upward(source, "nntrain.engine.layers") == ["line 7: nntrain.checkpoint", "line 8: nntrain.cli"]
