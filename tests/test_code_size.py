"""Rooms that do one job: no module of the product over 400 lines, no function over
60, and in the packages that run replies and ingestion no function taking more than
four parameters (a value object says it better). A file or function that grows past
these is several waiting to be split."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ezhr_graphql"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 4
# Where the run of a reply and the ingestion pipeline live: their steps pass a value
# object rather than a long list of loose arguments.
FEW_PARAMETERS = ("services/replies", "services/ingestion")

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _functions(path: Path) -> list[Function]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def test_the_checks_see_the_whole_package() -> None:
    names = {_name(p) for p in _modules()}
    assert "ezhr_graphql/app.py" in names
    assert "ezhr_graphql/services/replies/runs.py" in names
    assert len(names) > 100


def test_no_module_is_over_400_lines() -> None:
    long = {
        _name(p): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, "split these modules along their parts"


def test_no_function_is_over_60_lines() -> None:
    long = {
        f"{_name(p)}:{f.lineno} {f.name}": length
        for p in _modules()
        for f in _functions(p)
        # From `def` to its last line; decorators are not counted.
        if (length := (f.end_lineno or f.lineno) - f.lineno + 1) > MAX_FUNCTION_LINES
    }
    assert long == {}, "split these functions into named steps"


def _parameters(function: Function) -> list[str]:
    args = function.args
    named = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return [a.arg for a in named if a.arg not in ("self", "cls")]


def test_reply_and_ingestion_steps_take_at_most_four_parameters() -> None:
    paths = [p for p in _modules() if any(part in _name(p) for part in FEW_PARAMETERS)]
    assert paths, "the reply and ingestion packages moved: update FEW_PARAMETERS"
    wide = {
        f"{_name(p)}:{f.lineno} {f.name}": params
        for p in paths
        for f in _functions(p)
        # Constructors receive their collaborators; the rule is for the work itself.
        if f.name != "__init__" and len(params := _parameters(f)) > MAX_PARAMETERS
    }
    assert wide == {}, "pass a value object instead of many arguments"
