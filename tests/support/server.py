"""Run the real server process for end-to-end tests, and mint tokens it accepts.

``ServerProcess.start(env)`` launches ``python -m payment_service.cli serve`` on free
ports (port 0; the bound ports come from the "serving" JSON log line), captures its
stdout as parsed JSON lines, and ``stop()`` sends SIGTERM and returns the exit code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt

REPO_ROOT = Path(__file__).resolve().parents[2]

TEST_HS256_SECRET = "test-hs256-secret-for-e2e-tests-only-0123456789"
# AES-256 key for personal data at rest in tests: "<key id>:<base64 of 32 bytes>".
TEST_PII_KEY = "test:" + "dGVzdC1vbmx5LXBpaS1rZXktMzItYnl0ZXMtbG9uZyE="
TEST_ISSUER = "payment-service-tests"
TEST_AUDIENCE = "payment-service"
ALL_SCOPES = (
    "payments:read payments:write refunds:read refunds:write "
    "subscriptions:read subscriptions:write invoices:read invoices:write "
    "disputes:read disputes:write events:read"
)


_MIGRATED_SQLITE: dict[str, str] = {}
# A loopback address where nothing listens: a server that tries Stripe fails fast.
UNREACHABLE_STRIPE = "http://127.0.0.1:9"


def migrated_sqlite_url() -> str:
    """A SQLite database at Alembic head, made once per test session for servers that need one."""
    if "url" not in _MIGRATED_SQLITE:
        _MIGRATED_SQLITE["url"] = new_migrated_sqlite_url()
    return _MIGRATED_SQLITE["url"]


def new_migrated_sqlite_url() -> str:
    """A new SQLite database at Alembic head, for a test whose servers must see only its rows."""
    directory = Path(tempfile.mkdtemp(prefix="payment-service-e2e-"))
    url = f"sqlite+aiosqlite:///{directory / 'service.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env["PAYMENT_DATABASE_URL"] = url
    subprocess.run(
        [sys.executable, "-m", "payment_service.cli", "migrate"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return url


def server_env(**overrides: str) -> dict[str, str]:
    """Settings for a test server: free ports, the test secret/issuer/audience, quick shutdown.

    Keyword names are Settings keys (``shutdown_grace_s="2"``) and become PAYMENT_* variables.
    """
    env = {
        "PAYMENT_GRPC_PORT": "0",
        "PAYMENT_HTTP_PORT": "0",
        "PAYMENT_AUTH_HS256_SECRET": TEST_HS256_SECRET,
        "PAYMENT_AUTH_ISSUER": TEST_ISSUER,
        "PAYMENT_AUTH_AUDIENCE": TEST_AUDIENCE,
        "PAYMENT_SHUTDOWN_DRAIN_S": "0",
        "PAYMENT_SHUTDOWN_GRACE_S": "2",
        "PAYMENT_DATABASE_URL": migrated_sqlite_url(),
        "PAYMENT_STRIPE_API_KEY": "sk_test_e2e",
        "PAYMENT_PII_ENCRYPTION_KEYS": json.dumps([TEST_PII_KEY]),
        "PAYMENT_STRIPE_API_BASE": UNREACHABLE_STRIPE,
    }
    env.update({f"PAYMENT_{key.upper()}": value for key, value in overrides.items()})
    return env


class ServerProcess:
    """A running server process; use as a context manager or call ``stop()``."""

    def __init__(self, process: subprocess.Popen[str], stderr_path: Path) -> None:
        self.process = process
        self._stderr_path = stderr_path
        self.lines: list[str] = []
        self.grpc_port = 0
        self.http_port = 0
        self._serving = threading.Event()
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    @classmethod
    def start(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        module: str = "payment_service.cli",
        args: Sequence[str] = ("serve",),
        timeout_s: float = 30.0,
    ) -> ServerProcess:
        """Start ``python -m module *args`` with ``env`` on top of a PAYMENT_*-free environment."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
        full_env.update(server_env() if env is None else env)
        full_env["PYTHONUNBUFFERED"] = "1"
        # Stderr goes to a file, so a chatty stderr never blocks the server on a full pipe.
        handle, stderr_name = tempfile.mkstemp(prefix="payment-service-stderr-", suffix=".log")
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=handle,
            text=True,
        )
        os.close(handle)
        server = cls(process, Path(stderr_name))
        if not server._serving.wait(timeout_s) or not server.grpc_port:
            server.kill()
            raise RuntimeError(f"server did not start in {timeout_s}s:\n{server.output()}")
        return server

    # --- addresses -------------------------------------------------------------------

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    # --- output ----------------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """Stdout lines that are JSON objects (the log records), in order."""
        out = []
        for line in list(self.lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def wait_for_record(self, message: str, timeout_s: float = 10.0) -> dict[str, Any]:
        """Block until a log record with this message appears; return it."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for record in self.records():
                    if record.get("message") == message:
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no {message!r} log record in {timeout_s}s:\n{self.output()}"
                    )
                self._changed.wait(remaining)

    def output(self) -> str:
        """Stdout so far, then stderr (for failure messages)."""
        stderr = self._stderr_path.read_text(errors="replace") if self._stderr_path.exists() else ""
        return "\n".join(self.lines) + "\n--- stderr ---\n" + stderr

    # --- lifecycle -------------------------------------------------------------------

    def terminate(self) -> None:
        """Send SIGTERM and return at once."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float = 15.0) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(5)
        return code

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM, wait for exit, return the exit code (killed after ``timeout_s``)."""
        self.terminate()
        try:
            return self.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.stop()
        self._stderr_path.unlink(missing_ok=True)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            with self._changed:
                self.lines.append(line)
                if not self._serving.is_set():
                    self._note_serving(line)
                self._changed.notify_all()
        self.process.stdout.close()
        self._serving.set()  # wake start() if the process died before serving

    def _note_serving(self, line: str) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            return
        if isinstance(record, dict) and record.get("message") == "serving":
            self.grpc_port = int(record["grpc_port"])
            self.http_port = int(record["http_port"])
            self._serving.set()


# --- tokens ------------------------------------------------------------------------------


def make_token(
    scopes: str | Iterable[str] = ALL_SCOPES,
    *,
    sub: str = "test-caller",
    secret: str | bytes | Any = TEST_HS256_SECRET,
    algorithm: str = "HS256",
    issuer: str = TEST_ISSUER,
    audience: str = TEST_AUDIENCE,
    ttl_s: float = 3600,  # module-level tokens outlive a slow suite
    account_id: str | None = None,
    omit: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A token the test server accepts by default; every part can be changed to make a bad one."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_s,
        "scope": scopes if isinstance(scopes, str) else " ".join(scopes),
    }
    if account_id is not None:
        claims["account_id"] = account_id
    claims.update(extra or {})
    for name in omit:
        claims.pop(name, None)
    return jwt.encode(claims, secret, algorithm=algorithm)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC call metadata carrying ``token``."""
    return (("authorization", f"Bearer {token}"),)
