"""Library code never prints or exits: only :mod:`advisor.cli` (and the entry points of
child processes advisor starts, which talk to their parent through stdout and exit codes)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "advisor"
# Entry points of processes of their own: the CLI, `python -m advisor`, and the schema
# snapshot child (its parent reads its stdout and exit code).
ALLOWED = {"cli", "__main__.py", "schema/__main__.py"}
# Zero-code capture turns SIGTERM in the app's process into a normal exit, so that atexit
# writes the capture's trailer (the default SIGTERM kills without it).
ALLOWED_CALLS = {("capture/zerocode.py", "raise SystemExit")}


def _allowed(rel: str) -> bool:
    return rel in ALLOWED or rel.split("/")[0] in ALLOWED


def _calls(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("print", "exit", "quit"):
                found.append((node.lineno, func.id))
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in (("sys", "exit"), ("os", "_exit"))
            ):
                found.append((node.lineno, f"{func.value.id}.{func.attr}"))
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id == "SystemExit":
                found.append((node.lineno, "raise SystemExit"))
    return found


def offenders(root: Path) -> list[str]:
    """``path:line name`` of every print or exit under ``root`` outside the allowed modules."""
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if _allowed(rel):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        calls = [(line, name) for line, name in _calls(tree) if (rel, name) not in ALLOWED_CALLS]
        out += [f"{rel}:{line} {name}" for line, name in calls]
    return out


def test_library_code_never_prints_or_exits() -> None:
    assert offenders(PACKAGE) == []


def test_the_check_finds_a_print_and_an_exit(tmp_path: Path) -> None:
    (tmp_path / "lib.py").write_text(
        "import sys\n\ndef f():\n    print('x')\n    sys.exit(1)\n", encoding="utf-8"
    )
    assert offenders(tmp_path) == ["lib.py:4 print", "lib.py:5 sys.exit"]
