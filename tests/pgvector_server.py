"""A throw-away PostgreSQL with pgvector for tests.

The ``pgserver`` wheel (a dev dependency) bundles PostgreSQL 16 built with pgvector. We run its
binaries ourselves instead of calling ``pgserver.get_server()``, which listens only on a unix
socket, creates an OS user with ``useradd`` and widens directory permissions up to ``/`` when run
as root, and whose import warns (an error under our pytest settings) when ``XDG_RUNTIME_DIR`` is
unset. Here the server listens on 127.0.0.1 on a free port, with unix sockets disabled.

PostgreSQL refuses to run as root, so as root the server runs as an existing unprivileged user
(``postgres``, else ``nobody``).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

URL_ENV = "EZHR_TEST_PGVECTOR_URL"
DATABASE = "ezhr_test"
SUPERUSER = "postgres"
HOST = "127.0.0.1"
RUN_AS_CANDIDATES = ("postgres", "nobody")

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
PORT_ATTEMPTS = 5

# Durability is worthless for a throw-away test database.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "timezone": "UTC",
}


@contextmanager
def running_pgvector(tmp_dir: Path) -> Iterator[str]:
    """Yield a ``postgresql+asyncpg://`` URL of a database with the vector extension.

    With ``EZHR_TEST_PGVECTOR_URL`` set, that URL is yielded as is, untouched: its database must
    have the extension already (or let the tests create it). Otherwise a server is started
    under ``tmp_dir`` and stopped on exit, whatever happens in between.
    """
    url = os.environ.get(URL_ENV)
    if url:
        yield url
        return
    with _server(Path(tmp_dir)) as port:
        yield f"postgresql+asyncpg://{SUPERUSER}@{HOST}:{port}/{DATABASE}"


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


@contextmanager
def _server(tmp_dir: Path) -> Iterator[int]:
    bin_dir = _bin_dir()
    run_as = _run_as()
    base, owned = _base_dir(tmp_dir, run_as)
    try:
        if run_as is not None:
            if not _reachable(bin_dir, run_as):
                raise RuntimeError(f"{bin_dir} is not readable by uid {run_as.uid}")
            os.chown(base, run_as.uid, run_as.gid)
        data = base / "data"
        initdb = [bin_dir / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "--no-locale"]
        _run([*initdb, "--encoding=UTF8", "--no-sync", "--no-instructions"], base, run_as)
        proc, port = _start(bin_dir, base, data, run_as)
        try:
            psql = [bin_dir / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p", port]
            psql += ["-U", SUPERUSER]
            # In template1, so databases that tests create later have the extension too.
            _run([*psql, "-d", "template1", "-c", "CREATE EXTENSION IF NOT EXISTS vector"], base)
            _run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"], base)
            yield port
        finally:
            _stop(proc)
    finally:
        if owned:
            shutil.rmtree(base, ignore_errors=True)


def _bin_dir() -> Path:
    # find_spec does not import pgserver, whose import has side effects (see the module doc).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pgserver is not installed (it is a dev dependency: `uv sync`)")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise RuntimeError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir


def _run_as() -> _RunAs | None:
    if sys.platform == "win32" or os.geteuid() != 0:
        return None
    for name in RUN_AS_CANDIDATES:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _RunAs(entry.pw_uid, entry.pw_gid)
    raise RuntimeError(f"running as root and none of the users {RUN_AS_CANDIDATES} exists")


def _base_dir(tmp_dir: Path, run_as: _RunAs | None) -> tuple[Path, bool]:
    """A new directory for the server, and whether we must delete it afterwards.

    Under ``tmp_dir`` if the server's user can reach it; pytest's own temporary directories are
    private to root, so as root it usually is a new directory in the system's temporary one.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if run_as is None or _reachable(tmp_dir, run_as):
        return Path(tempfile.mkdtemp(prefix="pgvector-", dir=tmp_dir)), False
    base = Path(tempfile.mkdtemp(prefix="ezhr-pgvector-"))
    if not _reachable(base.parent, run_as):
        base.rmdir()
        raise RuntimeError(f"neither {tmp_dir} nor {base.parent} is reachable by uid {run_as.uid}")
    return base, True


def _reachable(path: Path, run_as: _RunAs) -> bool:
    """Whether the user can traverse every directory down to ``path`` (ACLs are ignored)."""
    resolved = path.resolve()
    for directory in [resolved, *resolved.parents]:
        st = directory.stat()
        if st.st_uid == run_as.uid:
            bit = stat.S_IXUSR
        elif st.st_gid == run_as.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _env() -> dict[str, str]:
    # PG* variables (PGHOST, PGSSLMODE, PGOPTIONS...) would redirect or alter the commands.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(args: list[Any], cwd: Path, run_as: _RunAs | None = None) -> None:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
        **(run_as.popen_kwargs() if run_as else {}),
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({result.returncode}):\n{result.stdout}")


def _start(
    bin_dir: Path, base: Path, data: Path, run_as: _RunAs | None
) -> tuple[subprocess.Popen[bytes], int]:
    settings = [arg for k, v in SERVER_SETTINGS.items() for arg in ("-c", f"{k}={v}")]
    log_path = base / "postgres.log"
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        args = [bin_dir / "postgres", "-D", data, "-h", HOST, "-p", port, "-k", "", *settings]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [str(a) for a in args],
                cwd=base,
                env=_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Ctrl-C in a terminal must not reach the server before our teardown does.
                start_new_session=True,
                preexec_fn=_die_with_parent(),
                **(run_as.popen_kwargs() if run_as else {}),
            )
        try:
            if _wait_ready(proc, data):
                return proc, port
        except BaseException:
            _stop(proc)
            raise
        output = log_path.read_text(errors="replace")
        if "could not create any TCP/IP sockets" not in output:
            raise RuntimeError(f"PostgreSQL did not start:\n{output}")
        # Someone took the port between our probe and the server's bind: try another.
    raise RuntimeError(f"PostgreSQL found no free port in {PORT_ATTEMPTS} attempts")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(proc: subprocess.Popen[bytes], data: Path) -> bool:
    """True once the server accepts connections, False if it exited first."""
    pid_file = data / "postmaster.pid"
    deadline = time.monotonic() + START_TIMEOUT
    while proc.poll() is None:
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        # Line 8 of postmaster.pid is the status that `pg_ctl -w` waits on too.
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return True
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL not ready after {START_TIMEOUT}s")
        time.sleep(0.02)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Fast shutdown; immediate, then kill, if it takes too long."""
    for sig, timeout in (
        (signal.SIGINT, STOP_TIMEOUT),
        (signal.SIGQUIT, 5.0),
        (signal.SIGKILL, 5.0),
    ):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            continue
        return


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a pre-exec hook that has the kernel stop the server if the test process dies
    without running its teardown (SIGKILL, crash). The signal follows the death of the
    *thread* that started the server, so the hook is only used from the main thread."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGINT)
        if os.getppid() != parent:  # the parent died before prctl
            os._exit(1)

    return hook
