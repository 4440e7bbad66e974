"""The deployment files: docker-compose.yml as compose resolves it, the Makefile's
commands (``make -n``), and the Dockerfile's structure.

None of this needs a Docker engine: ``docker compose config`` only reads and resolves
the compose file. It does need the docker CLI with the compose v2 plugin (.ci/run
installs the plugin), and ``make``. Without them, the tests that need them skip with one
line saying what to install; in CI (``CI=true``) or with ``EZHR_TEST_REQUIRE_ALL=1``
they fail instead, so that CI cannot pass them by not running them (tests/tools.py).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.tools import need, need_program

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

SECRET_KEY = "s" * 48
SA_PASSWORD = "Str0ng-Passw0rd"
MSSQL_URL = (
    f"mssql+aioodbc://sa:{SA_PASSWORD}@database:1433/chatbot_core"
    "?driver=ODBC+Driver+18+for+SQL+Server&TrustServerCertificate=yes"
)
PG_URL = "postgresql+asyncpg://ezhr:pg-password@postgres:5432/ezhr"
REDIS_URL = "redis://redis:6379/0"
APP_SERVICES = ("api-server", "worker")


def _base_env() -> dict[str, str]:
    """Only what finds the tools: nothing from the caller's shell or .env leaks in."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name in ("HOME", "DOCKER_CONFIG"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


# --- docker compose config ---------------------------------------------------------------


@pytest.fixture(scope="module")
def docker() -> str:
    how = "install the docker CLI and its compose v2 plugin (no Docker engine needed; see .ci/run)"
    docker = need_program("docker", how)
    result = subprocess.run(
        [docker, "compose", "version"],
        capture_output=True,
        text=True,
        env=_base_env(),
        check=False,
    )
    need(
        result.returncode == 0 and "v2." in result.stdout,
        "`docker compose` (the compose v2 plugin) is missing",
        how,
    )
    return docker


@dataclass
class Resolved:
    returncode: int
    stderr: str
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def services(self) -> dict[str, Any]:
        return dict(self.model["services"])


def compose_config(docker: str, env_file: Path, **variables: str) -> Resolved:
    result = subprocess.run(
        [
            docker,
            "compose",
            "--project-directory",
            str(ROOT),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**_base_env(), **variables},
        check=False,
    )
    model = json.loads(result.stdout) if result.returncode == 0 else {}
    return Resolved(result.returncode, result.stderr, model)


@pytest.fixture
def empty_env_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.env"
    path.write_text("")
    return path


@pytest.fixture
def default_stack(docker: str) -> Resolved:
    """The stack as a developer gets it: .env.example copied, its two blanks filled."""
    resolved = compose_config(
        docker, ENV_EXAMPLE, EZHR_AUTH__SECRET_KEY=SECRET_KEY, MSSQL_SA_PASSWORD=SA_PASSWORD
    )
    assert resolved.returncode == 0, resolved.stderr
    return resolved


def _pgvector_env_file(tmp_path: Path) -> Path:
    """.env.example with its pgvector lines uncommented, as it tells the reader to."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith("COMPOSE_PROFILES="):
            line = "COMPOSE_PROFILES=pgvector"
        elif re.match(r"# (POSTGRES_PASSWORD|STACK_[A-Z_]+)=", line):
            line = line[2:]
            if line == "POSTGRES_PASSWORD=":
                line = "POSTGRES_PASSWORD=pg-password"
        lines.append(line)
    path = tmp_path / "pgvector.env"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def pgvector_stack(docker: str, tmp_path: Path) -> Resolved:
    resolved = compose_config(
        docker, _pgvector_env_file(tmp_path), EZHR_AUTH__SECRET_KEY=SECRET_KEY
    )
    assert resolved.returncode == 0, resolved.stderr
    return resolved


def _readyz_check(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test
    return str(test[3])


def test_the_default_profile_runs_sql_server(default_stack: Resolved) -> None:
    services = default_stack.services
    assert set(services) == {"api-server", "worker", "database", "database-init", "redis"}
    assert "not set" not in default_stack.stderr, default_stack.stderr

    database = services["database"]
    assert database["image"].startswith("mcr.microsoft.com/mssql/server:2022")
    assert database["environment"]["ACCEPT_EULA"] == "Y"
    assert database["environment"]["MSSQL_SA_PASSWORD"] == SA_PASSWORD
    check = database["healthcheck"]["test"]
    assert check[:3] == ["CMD", "/opt/mssql-tools18/bin/sqlcmd", "-C"], check
    assert "SELECT 1" in check
    assert any(v["target"] == "/var/opt/mssql" for v in database["volumes"])


def test_an_init_step_creates_the_database_once_sql_server_is_healthy(
    default_stack: Resolved,
) -> None:
    init = default_stack.services["database-init"]
    assert init["depends_on"]["database"]["condition"] == "service_healthy"
    command = [*(init.get("entrypoint") or []), *(init.get("command") or [])]
    assert command[:2] == ["/opt/mssql-tools18/bin/sqlcmd", "-C"], command
    assert command[command.index("-S") + 1] == "database"
    assert "IF DB_ID('chatbot_core') IS NULL CREATE DATABASE chatbot_core" in command
    assert init["environment"]["SQLCMDPASSWORD"] == SA_PASSWORD
    assert init["restart"] == "no"

    api = default_stack.services["api-server"]
    assert api["depends_on"]["database-init"]["condition"] == "service_completed_successfully"


def test_the_api_server_migrates_then_serves_on_5000_with_workers(
    default_stack: Resolved, docker: str
) -> None:
    api = default_stack.services["api-server"]
    # serve: migrations, seed, then uvicorn.
    assert " ".join(api["command"]) == "ezhr-graphql serve --host 0.0.0.0 --port 5000 --workers 4"
    assert [(p["published"], p["target"]) for p in api["ports"]] == [("5000", 5000)]
    assert "/readyz" in _readyz_check(api)
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert api["build"]["dockerfile"] == "Dockerfile"

    more = compose_config(
        docker,
        ENV_EXAMPLE,
        EZHR_AUTH__SECRET_KEY=SECRET_KEY,
        MSSQL_SA_PASSWORD=SA_PASSWORD,
        WORKERS="8",
    )
    assert more.services["api-server"]["command"][-2:] == ["--workers", "8"]


def test_both_app_services_share_the_database_and_redis(default_stack: Resolved) -> None:
    for name in APP_SERVICES:
        env = default_stack.services[name]["environment"]
        assert env["EZHR_DATABASE__URL"] == MSSQL_URL, name
        assert env["EZHR_REDIS_URL"] == REDIS_URL, name
        assert env["EZHR_AUTH__SECRET_KEY"] == SECRET_KEY, name
        # Not set anywhere: left unset in the container rather than set to "".
        assert env["EZHR_SEED__ADMIN_PASSWORD"] is None, name


def test_the_worker_takes_ingestion_jobs_once_the_api_has_migrated(
    default_stack: Resolved,
) -> None:
    worker = default_stack.services["worker"]
    assert worker["command"][:2] == ["ezhr-graphql", "worker"]
    assert worker["depends_on"]["api-server"]["condition"] == "service_healthy"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["healthcheck"]["disable"] is True
    assert "ports" not in worker


def test_redis_has_a_healthcheck(default_stack: Resolved) -> None:
    redis = default_stack.services["redis"]
    assert redis["image"].startswith("redis:")
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_stack_defaults_to_production(docker: str, empty_env_file: Path) -> None:
    resolved = compose_config(
        docker,
        empty_env_file,
        COMPOSE_PROFILES="mssql",
        EZHR_AUTH__SECRET_KEY=SECRET_KEY,
        MSSQL_SA_PASSWORD=SA_PASSWORD,
    )
    assert resolved.returncode == 0, resolved.stderr
    assert resolved.services["api-server"]["environment"]["EZHR_ENV"] == "production"


def test_the_secret_key_is_required_with_a_clear_message(docker: str, empty_env_file: Path) -> None:
    resolved = compose_config(docker, empty_env_file, MSSQL_SA_PASSWORD=SA_PASSWORD)
    assert resolved.returncode != 0
    assert "EZHR_AUTH__SECRET_KEY" in resolved.stderr
    assert ".env" in resolved.stderr


def test_the_pgvector_profile_runs_postgres_instead(pgvector_stack: Resolved) -> None:
    services = pgvector_stack.services
    assert set(services) == {"api-server", "worker", "postgres", "redis"}
    assert "not set" not in pgvector_stack.stderr, pgvector_stack.stderr

    postgres = services["postgres"]
    assert postgres["image"] == "pgvector/pgvector:pg16"
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "pg-password"
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["EZHR_DATABASE__URL"] == PG_URL, name
        assert env["EZHR_KNOWLEDGE__VECTOR_STORE"] == "pgvector", name
        assert env["EZHR_REDIS_URL"] == REDIS_URL, name
    assert services["api-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"


# --- make -n -------------------------------------------------------------------------------


def make_dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    make = need_program("make", "install make (apt-get install make) to check the Makefile")
    return subprocess.run(
        [make, "--no-print-directory", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_base_env(),
        check=False,
    )


def printed_commands(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    # `:` is the no-op that swallows alembic-revision's bare-word message.
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    return [line for line in lines if line and line != ":"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build"], ["docker compose build"]),
        (["build", "SERVICES=api-server"], ["docker compose build api-server"]),
        (["up"], ["docker compose up -d"]),
        (["up", "SERVICES=database"], ["docker compose up -d database"]),
        (["down"], ["docker compose down"]),
        (["down", "VOLUMES=1"], ["docker compose down --volumes"]),
        (["logs"], ["docker compose logs -f"]),
        (["logs", "SERVICES=api-server worker"], ["docker compose logs -f api-server worker"]),
        (["exec", "SERVICES=api-server"], ["docker compose exec api-server sh"]),
        (
            ["exec", "SERVICES=api-server", "COMMAND=ezhr-graphql db upgrade"],
            ["docker compose exec api-server ezhr-graphql db upgrade"],
        ),
        (["alembic-revision", "add x"], ['uv run ezhr-graphql db revision -m "add x"']),
        (
            ["alembic-revision", "add", "documents"],
            ['uv run ezhr-graphql db revision -m "add documents"'],
        ),
        (
            ["alembic-revision", "MESSAGE=add documents"],
            ['uv run ezhr-graphql db revision -m "add documents"'],
        ),
        (["alembic-upgrade-head"], ["uv run ezhr-graphql db upgrade head"]),
        (["run"], ["uv run ezhr-graphql serve"]),
        (["test"], ["uv run pytest"]),
        (["lint"], ["uv run ruff check .", "uv run ruff format --check .", "uv run mypy"]),
        (["bench"], ["uv run python bench/http_bench.py"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_make_target_prints(args: list[str], expected: list[str]) -> None:
    assert printed_commands(make_dry_run(*args)) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["exec"], "one service"),
        (["exec", "SERVICES=api-server worker"], "one service"),
        (["alembic-revision"], "message"),
    ],
)
def test_make_target_refuses(args: list[str], message: str) -> None:
    result = make_dry_run(*args)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_services_the_makefile_names_exist(default_stack: Resolved) -> None:
    """The examples in the Makefile's help name services of the compose file."""
    named = set(re.findall(r"SERVICES=([a-z-]+)", (ROOT / "Makefile").read_text()))
    assert named
    assert named <= set(default_stack.services)


# --- Dockerfile ----------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and stages; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "a continuation runs off the end of the Dockerfile"

    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            key, _, value = rest.partition("=")
            args[key] = value
        else:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())[1]


def _stage(stages: list[Stage], name: str) -> Stage:
    return next(s for s in stages if s.name == name)


def test_the_dockerfile_builds_in_stages_on_python_311_slim(stages: list[Stage]) -> None:
    names = [s.name for s in stages]
    assert "builder" in names
    assert len(set(names)) == len(names)
    assert _stage(stages, "builder").base == "python:3.11-slim-bookworm"
    assert stages[-1].base == "python:3.11-slim-bookworm"
    assert any(s.base.startswith("ghcr.io/astral-sh/uv:") for s in stages)
    known = {s.name for s in stages if s.name}
    for stage in stages:
        for copy in stage.all("COPY"):
            found = re.search(r"--from=(\S+)", copy)
            if found:
                assert found.group(1) in known, copy


def test_the_builder_compiles_llama_cpp_portably_and_syncs_the_lock(
    stages: list[Stage],
) -> None:
    builder = _stage(stages, "builder")
    runs = " ".join(builder.all("RUN"))
    assert "build-essential" in runs
    assert "cmake" in runs
    assert "-DGGML_NATIVE=OFF" in " ".join(builder.all("ENV"))
    syncs = [shlex.split(run) for run in builder.all("RUN") if "uv sync" in run]
    assert syncs
    for sync in syncs:
        assert {"--frozen", "--no-dev"} <= set(sync), sync
        # The image ships the local generative model, an extra of the default install.
        assert _extras(sync) >= {"mssql", "local-llm"}, sync
    assert any("/uv" in copy and "--from=uv" in copy for copy in builder.all("COPY"))


def _extras(command: list[str]) -> set[str]:
    return {command[i + 1] for i, word in enumerate(command[:-1]) if word == "--extra"}


def test_ci_installs_the_local_model_the_default_install_leaves_out() -> None:
    syncs = [
        shlex.split(line)
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip().startswith("uv sync")
    ]
    assert syncs, ".ci/run installs the locked dependencies"
    for sync in syncs:
        assert "--frozen" in sync, sync
        assert "local-llm" in _extras(sync), sync


def test_the_final_image_is_lean_non_root_and_checks_readiness(stages: list[Stage]) -> None:
    final = stages[-1]
    runs = " ".join(final.all("RUN"))
    assert "build-essential" not in runs
    assert "cmake" not in runs
    assert "msodbcsql18" in runs
    assert "ACCEPT_EULA=Y" in runs
    assert any(c.startswith("--from=builder /app") for c in final.all("COPY"))

    users = final.all("USER")
    assert users, "the final stage must switch to a non-root user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    last_user = max(i for i, ins in enumerate(final.instructions) if ins.keyword == "USER")
    assert all(ins.keyword != "RUN" for ins in final.instructions[last_user:])

    checks = final.all("HEALTHCHECK")
    assert len(checks) == 1
    assert "/readyz" in checks[0]
    assert "CMD" in checks[0]
    assert final.all("EXPOSE") == ["5000"]
    assert final.all("CMD")


def test_the_build_context_has_what_the_dockerfile_copies() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for entry in (".git", ".venv", ".env"):
        assert entry in ignored
    _, stages = parse_dockerfile((ROOT / "Dockerfile").read_text())
    for stage in stages:
        for copy in stage.all("COPY"):
            if "--from=" in copy:
                continue
            sources = [w for w in copy.split() if not w.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source not in ignored, source


def test_envrc_sample_loads_dotenv_and_the_uv_environment() -> None:
    text = (ROOT / ".envrc.sample").read_text()
    assert re.search(r"^dotenv", text, re.MULTILINE)
    assert re.search(r"^export VIRTUAL_ENV=.*\.venv", text, re.MULTILINE)
    assert re.search(r"^PATH_add \.venv/bin$", text, re.MULTILINE)
