"""The shipped package stays free of test-media generators and machine-specific paths."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "aima"
FORBIDDEN_MODULES = ("skimage", "tests")
FORBIDDEN_PATHS = ("/usr/share/", "/usr/lib/")


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_shipped_code_imports_no_test_generators_or_scikit_image() -> None:
    offenders = [
        f"{path.relative_to(SRC)}: {name}"
        for path in SRC.rglob("*.py")
        for name in _imports(ast.parse(path.read_text(encoding="utf-8")))
        if name.split(".")[0] in FORBIDDEN_MODULES
    ]
    assert not offenders, offenders


def test_shipped_code_hard_codes_no_debian_paths() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and any(p in node.value for p in FORBIDDEN_PATHS)
            ):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value[:60]}")
    assert not offenders, offenders
