"""The suite needs nothing beside the repository: a fresh clone, alone in an empty
folder, collects every test and runs the tests that read documents, from the copies
under tests/fixtures/.

The clone holds what is committed (HEAD), so a fixture left uncommitted fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.tools import need, need_program

TESTS = Path(__file__).resolve().parent

# What a test reading documents from outside the repository would say: the sample
# corpora folder next to the checkout, or any path up out of it.
OUTSIDE = [
    re.compile(r"shared\W{0,6}corpora", re.IGNORECASE),
    re.compile(r"\.\.[/\\]shared"),
    re.compile(r"parents\[2\]"),
]


def test_no_test_file_reads_documents_from_outside_the_repository() -> None:
    found = []
    for path in sorted(TESTS.rglob("*")):
        # Installed packages (tests/oidc/node_modules, from npm ci) are not ours.
        if not path.is_file() or {"__pycache__", "node_modules"} & set(path.parts):
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for pattern in OUTSIDE:
            found += [
                f"{path.relative_to(TESTS)}: {match.group()}" for match in pattern.finditer(text)
            ]
    assert found == []


def _git(git: str, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [git, *args], cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout.strip()


def _env(**extra: str) -> dict[str, str]:
    """This environment, without what would point git or Python back at this checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") and key not in {"PYTHONPATH", "PYTEST_ADDOPTS"}
    }
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def _pytest(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """This interpreter's pytest, run in ``clone`` on the clone's code."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=clone,
        env=_env(PYTHONPATH=str(clone)),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_fresh_clone_with_nothing_beside_it_collects_and_reads_its_fixtures(
    repo_root: Path, tmp_path: Path
) -> None:
    git = need_program("git", "install git (apt-get install git)")
    need(
        (repo_root / ".git").exists(),
        f"{repo_root} is not a git checkout",
        "run the suite from a git clone of the repository",
    )
    head = _git(git, "rev-parse", "HEAD", cwd=repo_root)
    alone = tmp_path / "alone"
    alone.mkdir()
    clone = alone / "ezhr-graphql"
    _git(
        git,
        "clone",
        "--quiet",
        "--no-hardlinks",
        "--no-checkout",
        str(repo_root),
        str(clone),
        cwd=alone,
    )
    _git(git, "checkout", "--quiet", "--detach", head, cwd=clone)
    assert sorted(p.name for p in alone.iterdir()) == ["ezhr-graphql"]

    collected = _pytest(clone, "--collect-only")
    report = collected.stdout + collected.stderr
    assert collected.returncode == 0, report[-4000:]
    summary = report.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ tests? collected in .*", summary), report[-4000:]
    assert not re.search(r"(?m)^(ERROR|=+ ERRORS)", report), report[-4000:]

    # Collection imports every module; these also read the documents (PDF and Markdown).
    parsed = _pytest(clone, "tests/test_parsing.py")
    report = parsed.stdout + parsed.stderr
    assert parsed.returncode == 0, report[-4000:]
    assert re.search(r"\d+ passed", report), report[-4000:]
    assert "skipped" not in report, report[-4000:]
