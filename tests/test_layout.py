"""The house rules of docs/architecture.md, checked on the source: imports only point down the layers, at module
level and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nntrain"

# lower number = lower layer; a module may import its own layer or below
LAYERS = {"errors": 0, "registry": 0, "interrupts": 0, "engine": 1, "data": 2, "runs": 3, "training": 4, "config": 5,
          "interop": 5,  # beside config: reads runs, data and engine; commands call it
          "commands": 6, "cli": 7, "__main__": 8}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "nntrain":
        return None
    if len(parts) == 1:  # `from nntrain import __version__` and the like: the package root
        return 0
    return LAYERS[parts[1]]


def _imports(path: Path):
    """(line, imported module) for every nntrain import in a file, wherever it stands."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "nntrain":  # `from nntrain import runs` imports the sub-package
                yield from ((node.lineno, f"nntrain.{alias.name}") for alias in node.names
                            if alias.name in LAYERS)
            else:
                yield node.lineno, node.module


def test_imports_point_down_the_layers():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        own = _layer(module) if path.name != "__init__.py" or path.parent != PACKAGE else 0
        for line, imported in _imports(path):
            target = _layer(imported)
            if target is not None and target > own:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(wrong)


def test_the_check_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from nntrain.cli import app\n")
    assert list(_imports(source)) == [(2, "nntrain.cli")]
