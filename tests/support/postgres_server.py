"""A private PostgreSQL instance on a free loopback port, for tests that stop the database.

Stopping the shared PostgreSQL would break every other test running against it; a
private instance (``initdb`` into a temporary directory, trust authentication,
``pg_ctl`` to start and stop it) is the same real server, and stopping it is what a
database outage looks like to the service::

    with PrivatePostgres() as pg:    # initdb + start; database "payments" created
        pg.url                       # postgresql+psycopg://postgres@127.0.0.1:PORT/payments
        pg.stop()                    # fast shutdown ("immediate" for a crash)
        pg.start()                   # same port, same data
    # stopped and its directory removed, whatever happened

initdb refuses to run as root: as root, every PostgreSQL command runs as the
``postgres`` system user (or ``nobody``), which owns the directory.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

import psycopg

SUPERUSER = "postgres"
DATABASE = "payments"
StopMode = Literal["smart", "fast", "immediate"]
# Small and quick: the instance lives for one test. fsync off loses nothing when only
# PostgreSQL dies (committed WAL is in the OS page cache); the machine never crashes here.
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c full_page_writes=off",
    "-c shared_buffers=32MB",
    "-c max_connections=60",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: on PATH, else Debian's newest versioned directory."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as when we are root (None when we are not)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and there is no postgres or nobody user for PostgreSQL")


class PrivatePostgres:
    """One initdb'd cluster in a temporary directory, started on a free port."""

    def __init__(self, *, startup_timeout_s: float = 60.0) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL's initdb/pg_ctl are not installed")
        self._initdb = str(bin_dir / "initdb")
        self._pg_ctl = str(bin_dir / "pg_ctl")
        self._timeout_s = startup_timeout_s
        self._user = _unprivileged_user()
        self.port = _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="payment-service-pg-"))
        self._closed = False
        atexit.register(self.close)
        try:
            self._own(self.directory)
            self._run(
                self._initdb,
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-sync",
            )
            self.start()
            self._create_database()
        except BaseException:
            self.close()
            raise

    # --- addresses -------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``payments`` database."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def conninfo(self) -> str:
        """The same database for psycopg directly."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start (again) on the same port and data; returns once it accepts connections."""
        options = " ".join((f"-p {self.port}", f"-k {self.directory}", *_SERVER_OPTIONS))
        self._run(
            self._pg_ctl,
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            str(int(self._timeout_s)),
            "start",
        )

    def stop(self, mode: StopMode = "fast") -> None:
        """Stop and wait: "fast" disconnects everyone cleanly, "immediate" is a crash."""
        self._run(
            self._pg_ctl,
            "-D",
            str(self.data_dir),
            "-m",
            mode,
            "-w",
            "-t",
            str(int(self._timeout_s)),
            "stop",
        )

    def restart(self, mode: StopMode = "fast") -> None:
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        status = self._run(self._pg_ctl, "-D", str(self.data_dir), "status", check=False)
        return status.returncode == 0

    def close(self) -> None:
        """Stop it (if running) and remove its directory; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            if self.data_dir.exists() and self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> PrivatePostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals -------------------------------------------------------------------

    def _as_user(self) -> list[str]:
        """The prefix that runs a command as PostgreSQL's user. ``setpriv`` rather than
        Popen(user=...): that needs a plain fork, which runs gRPC's fork handlers in the
        child of a test process full of gRPC threads (and crashed pg_ctl with SIGSEGV)."""
        if self._user is None:
            return []
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeError("running as root needs setpriv (util-linux) to drop to postgres")
        uid, gid = self._user.pw_uid, self._user.pw_gid
        return [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]

    def _own(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self._as_user(), *command],
            capture_output=True,
            text=True,
            timeout=self._timeout_s + 10,
            cwd=self.directory,
            env={**os.environ, "LC_ALL": "C"},
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n--- server log ---\n{self.log_tail()}"
            )
        return result

    def _create_database(self) -> None:
        admin = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
