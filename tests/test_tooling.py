"""Lint, format and strict typing are part of the suite, so CI enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_tool_passes(command: list[str], repo_root: Path) -> None:
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_lock_file_is_in_step_with_pyproject(repo_root: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "uv runs this suite, so it must be on PATH"
    result = subprocess.run(
        [uv, "lock", "--check"], cwd=repo_root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
