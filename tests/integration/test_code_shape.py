"""The shape the code keeps (issue #10): no module of src/ over 500 lines (migrations aside) and no
class over 25 methods, so that what moves money stays easy to find and to test. A module or class
that grows past these is split where its responsibilities part, not trimmed to pass. (Here, not in
tests/unit: parsing all of src/ takes a second.)"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tradewire"
MAX_LINES = 500
MAX_METHODS = 25


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.relative_to(SRC).parts)


def test_the_source_is_found() -> None:
    assert len(_modules()) > 100 and (SRC / "services" / "execution.py") in _modules()


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_class_has_over_25_methods() -> None:
    big: dict[str, int] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
                if len(methods) > MAX_METHODS:
                    big[f"{path.relative_to(SRC)}:{node.name}"] = len(methods)
    assert big == {}
