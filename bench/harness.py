"""The pieces every bench scenario shares: servers on loopback, pinning, h2load, /metrics.

A scenario starts localstripe and the real ``payment-service serve`` process with one
backend (``sqlite`` = SQLite file + in-memory cache; ``postgres`` = a PostgreSQL database
of its own + Redis), pins the server to core 0 and the load generator to core 1 when the
machine has two or more cores, and drives unary RPCs with h2load from a prebuilt
length-prefixed gRPC request body. h2load cannot see grpc-status (it lives in the HTTP/2
trailers), so a scenario counts successes from the server's ``grpc_server_handled``
counters on ``/metrics`` (see ``Server.handled``).

    with Server.start(Backend.sqlite()) as server:
        body = write_body(server.workdir / "get.bin", request_message)
        result = h2load(server, "/payments.v1.PaymentService/GetPayment", body, token)

``alternate`` runs the scenarios' rounds interleaved (a, b, a, b, ...) so drift of a
shared machine hits both alike; ``report`` prints each round, the medians and the ratios
last.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789abcdef0123456789"
PII_KEYS = '["bench:YmVuY2gtb25seS1waWkta2V5LTMyLWJ5dGVzLWxvbmc="]'
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
SERVER_CORE = "0"
LOAD_CORE = "1"


def pinning() -> bool:
    """Pin server and load generator to cores of their own (only with two cores or more)."""
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def pinned(cmd: Sequence[str], core: str) -> list[str]:
    return ["taskset", "-c", core, *cmd] if pinning() else list(cmd)


# --- backends ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """The storage a server runs on: the PAYMENT_* settings and how to prepare them."""

    name: str
    env: Mapping[str, str]
    prepare: Callable[[], None] = lambda: None

    @classmethod
    def sqlite(cls, workdir: Path) -> Backend:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return cls("sqlite+memory", {"PAYMENT_DATABASE_URL": url})

    @classmethod
    def postgres(cls, database: str = "bench_payments", redis_db: int = 14) -> Backend:
        """A PostgreSQL database of its own (dropped and made anew) and a flushed Redis db."""
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        redis_url = f"{REDIS_URL}/{redis_db}"

        def prepare() -> None:
            import psycopg
            import redis

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{database}"')
            redis.Redis.from_url(redis_url).flushdb()

        env = {
            "PAYMENT_DATABASE_URL": f"{base.replace('postgresql:', 'postgresql+psycopg:')}/{database}",
            "PAYMENT_REDIS_URL": redis_url,
        }
        return cls("postgres+redis", env, prepare)

    @classmethod
    def named(cls, name: str, workdir: Path) -> Backend:
        if name == "sqlite":
            return cls.sqlite(workdir)
        if name == "postgres":
            return cls.postgres()
        raise SystemExit(f"unknown backend {name!r} (sqlite, postgres)")


# --- servers ------------------------------------------------------------------------------


def _start(
    cmd: list[str],
    env: Mapping[str, str],
    ready: Callable[[str], bool],
    keep: Path | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """Start ``cmd`` and wait for the output line ``ready`` accepts. With ``keep``, the
    output goes to that file (a write never waits for a reader, as a container runtime's
    log pipe does not under load); else it is read and dropped by a thread."""
    if keep is not None:
        return _start_to_file(cmd, env, ready, keep)
    proc = subprocess.Popen(
        cmd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if ready(line):
            # Keep reading its output, or a full pipe would stall the process.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, line
    raise SystemExit(f"{cmd} did not start")


def start_process(
    cmd: list[str], env: Mapping[str, str], ready: Callable[[str], bool]
) -> tuple[subprocess.Popen[str], str]:
    """Start ``cmd``; return once a line of its output satisfies ``ready`` (and that line)."""
    return _start(cmd, env, ready)


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of the process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of the process so far."""
    return sum(cpu_times(pid))


def _start_to_file(
    cmd: list[str], env: Mapping[str, str], ready: Callable[[str], bool], keep: Path
) -> tuple[subprocess.Popen[str], str]:
    with keep.open("w") as out:
        proc = subprocess.Popen(
            cmd, env=dict(env), stdout=out, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
        )
    deadline = time.monotonic() + 60
    with keep.open() as log:
        while time.monotonic() < deadline and proc.poll() is None:
            line = log.readline()
            if not line:
                time.sleep(0.05)
            elif ready(line):
                return proc, line
    raise SystemExit(f"{cmd} did not start (its output: {keep})")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Server:
    """A running ``payment-service serve`` (with its localstripe) on loopback ports."""

    backend: Backend
    workdir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    grpc_port: int
    http_port: int
    _others: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @classmethod
    @contextmanager
    def start(
        cls, backend: Backend, *, workdir: Path | None = None, extra_env: Mapping[str, str] = {}
    ) -> Iterator[Server]:
        """localstripe, migrations, then the server pinned to its core; all stopped at exit."""
        workdir = workdir or Path(tempfile.mkdtemp(prefix="bench-"))
        backend.prepare()
        if pinning():  # this process and localstripe stay off the server's core
            os.sched_setaffinity(0, {int(LOAD_CORE)})
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
        stripe, line = _start(
            [sys.executable, "tools/localstripe_server.py", "--port", "0", "--no-access-log"],
            env,
            lambda text: text.startswith("LOCALSTRIPE_LISTENING"),
        )
        try:
            env.update(
                PAYMENT_STRIPE_API_BASE=line.split()[1],
                PAYMENT_STRIPE_API_KEY="sk_test_bench",
                PAYMENT_AUTH_HS256_SECRET=SECRET,
                PAYMENT_PII_ENCRYPTION_KEYS=PII_KEYS,
                PAYMENT_GRPC_PORT="0",
                PAYMENT_HTTP_PORT="0",
            )
            env.update(backend.env)
            env.update(extra_env)
            migrate = [sys.executable, "-m", "payment_service.cli", "migrate"]
            subprocess.run(migrate, env=env, check=True, capture_output=True, cwd=ROOT)
            serve = pinned([sys.executable, "-m", "payment_service.cli", "serve"], SERVER_CORE)
            log = workdir / "server.log"
            process, serving = _start(serve, env, lambda text: '"serving"' in text, log)
            ports = json.loads(serving)
            server = cls(
                backend, workdir, env, process, int(ports["grpc_port"]), int(ports["http_port"])
            )
            server._others.append(stripe)
            try:
                yield server
            finally:
                _stop(process)
        finally:
            _stop(stripe)

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.http_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode())

    def handled(self, method: str) -> dict[str, float]:
        """``grpc_server_handled`` of ``method`` by status code name, as /metrics says now."""
        counts: dict[str, float] = {}
        pattern = re.compile(
            r'^grpc_server_handled_total\{(?=[^}]*method="' + re.escape(method) + r'")'
            r'[^}]*code="([A-Z_]+)"[^}]*\} ([0-9.e+]+)$',
            re.MULTILINE,
        )
        for code, value in pattern.findall(self.metrics()):
            counts[code] = counts.get(code, 0.0) + float(value)
        return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- tokens and request bodies --------------------------------------------------------


def token(scopes: Sequence[str], sub: str = "bench", account_id: str | None = None) -> str:
    from payment_service.config import Settings
    from payment_service.security.tokens import mint_token

    settings = Settings(auth_hs256_secret=SECRET)  # type: ignore[arg-type]
    return mint_token(settings, sub=sub, scopes=list(scopes), account_id=account_id, ttl_s=3600)


def grpc_frame(message: Any) -> bytes:
    """One length-prefixed gRPC message (uncompressed) of a protobuf message."""
    payload = message.SerializeToString()
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def write_body(path: Path, message: Any) -> Path:
    path.write_bytes(grpc_frame(message))
    return path


# --- h2load ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """One h2load run: its own numbers, and (when a method is counted) the server's."""

    seconds: float
    responses_2xx: int
    data_bytes: int
    ok: float | None = None  # grpc OK answers per /metrics, when counted
    errors: float | None = None  # any other grpc code

    @property
    def rps(self) -> float:
        """Successful calls per second: the server's OK count when known, else h2load's."""
        done = self.ok if self.ok is not None else self.responses_2xx
        return done / self.seconds


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def _parse_h2load(output: str) -> tuple[float, int, int]:
    finished = re.search(r"finished in ([0-9.]+)(m?s)", output)
    codes = re.search(r"status codes: (\d+) 2xx", output)
    data = re.search(r"traffic: .*?, ([0-9.]+)(B|KB|MB|GB) \([0-9]+\) data", output)
    exact = re.search(r"traffic: .*?, [0-9.]+(?:B|KB|MB|GB) \(([0-9]+)\) data", output)
    if finished is None or codes is None:
        raise RuntimeError(f"h2load said:\n{output}")
    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    data_bytes = int(exact.group(1)) if exact else 0
    if not exact and data is not None:
        data_bytes = int(float(data.group(1)) * _UNITS[data.group(2)])
    return seconds, int(codes.group(1)), data_bytes


def h2load(
    server: Server,
    path: str,
    body: Path,
    bearer: str | None = None,
    *,
    requests: int = 20_000,
    clients: int = 4,
    streams: int = 16,
    count_method: str | None = None,
    extra_headers: Sequence[str] = (),
) -> LoadResult:
    """``requests`` POSTs of ``body`` to ``path`` (clients x streams in flight), h2load
    pinned to its own core. With ``count_method`` the OK count comes from /metrics."""
    before = server.handled(count_method) if count_method else {}
    headers = ["content-type: application/grpc", "te: trailers", *extra_headers]
    if bearer is not None:
        headers.append(f"authorization: Bearer {bearer}")
    cmd = ["h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams)]
    cmd += ["-d", str(body)]
    for header in headers:
        cmd += ["-H", header]
    cmd.append(f"http://{server.target}{path}")
    run = subprocess.run(pinned(cmd, LOAD_CORE), capture_output=True, text=True, check=False)
    seconds, done, data_bytes = _parse_h2load(run.stdout)
    if count_method is None:
        return LoadResult(seconds, done, data_bytes)
    after = server.handled(count_method)
    ok = after.get("OK", 0.0) - before.get("OK", 0.0)
    total = sum(after.values()) - sum(before.values())
    return LoadResult(seconds, done, data_bytes, ok=ok, errors=total - ok)


# --- rounds and medians -------------------------------------------------------------


Round = Callable[[], LoadResult]


def alternate(scenarios: Mapping[str, Round], rounds: int) -> dict[str, list[LoadResult]]:
    """Each scenario ``rounds`` times, interleaved: a, b, a, b, ... (printed as they end)."""
    results: dict[str, list[LoadResult]] = {name: [] for name in scenarios}
    for number in range(1, rounds + 1):
        for name, run in scenarios.items():
            result = run()
            results[name].append(result)
            extra = "" if result.errors is None else f", {result.errors:.0f} not OK"
            print(f"  round {number} {name:<14} {result.rps:8.0f} calls/s{extra}", flush=True)
    return results


def median_rps(results: Sequence[LoadResult]) -> float:
    return statistics.median(result.rps for result in results)


def report(
    title: str, results: Mapping[str, Sequence[LoadResult]], ratios: Sequence[tuple[str, str]]
) -> dict[str, float]:
    """Print each scenario's rounds and median, then each ``(numerator, denominator)``
    ratio of medians (and of each round pair) last; the ratios by "a/b" name."""
    print(f"\n{title}")
    for name, runs in results.items():
        rounds = " ".join(f"{run.rps:.0f}" for run in runs)
        print(f"  {name:<14} median {median_rps(runs):8.0f} calls/s   rounds: {rounds}")
    found: dict[str, float] = {}
    for top, bottom in ratios:
        pairs = " ".join(
            f"{a.rps / b.rps:.2f}" for a, b in zip(results[top], results[bottom], strict=True)
        )
        value = median_rps(results[top]) / median_rps(results[bottom])
        found[f"{top}/{bottom}"] = value
        print(f"  ratio {top}/{bottom}: {value:.2f} (per round: {pairs})")
    return found


def settle(seconds: float = 0.5) -> None:
    """A short pause between rounds so one round's tail does not overlap the next."""
    time.sleep(seconds)


# --- profiles ---------------------------------------------------------------------------


@contextmanager
def profiled(server: Server, out: Path, seconds: int) -> Iterator[None]:
    """py-spy records the server for ``seconds`` (raw collapsed stacks to ``out``) while
    the block runs; ``summarize_profile(out)`` reads it."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)  # py-spy makes no directory
    cmd = [spy, "record", "-p", str(server.pid), "-d", str(seconds), "-r", "250"]
    cmd += ["-f", "raw", "-o", str(out), "--nonblocking"]
    recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        recorder.wait(seconds + 30)


# Frames every sample of the server passes through (the entry point, the event loop).
_EVERYWHERE = ("payment_service/cli", "runpy", "asyncio/runners", "asyncio/base_events")


def summarize_profile(path: Path, own: str = "payment_service", top: int = 15) -> str:
    """Share of samples per function (inclusive: a stack counts once per function in it):
    all of ours (``own`` in the file name, below the entry point), and the top ``top``."""
    total = 0
    ours = 0
    inclusive: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = {
            frame
            for frame in stack.split(";")
            if own in frame and not any(part in frame for part in _EVERYWHERE)
        }
        if frames:
            ours += count
        for frame in {re.sub(r":\d+\)$", ")", f) for f in frames}:
            inclusive[frame] = inclusive.get(frame, 0) + count
    lines = [f"{total} samples; stacks through {own}: {100 * ours / max(total, 1):.1f} %"]
    for frame, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * count / max(total, 1):5.1f} %  {frame}")
    return "\n".join(lines)
