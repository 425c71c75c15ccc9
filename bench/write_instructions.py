"""Instructions per CreatePayment + ConfirmPayment pair, counted by callgrind: a measure
of the write path that does not move with a shared host's speed (CPU times there drift
by a third within an hour; instruction counts repeat within 1 %).

Starts localstripe and, under ``valgrind --tool=callgrind`` with instrumentation off,
either the real ``payment-service serve`` on PostgreSQL + Redis (as write_path.py
starts it) or ``--floor``: bench/write_floor.py's server. After a warm-up it turns
instrumentation on for ``--pairs`` sequential pairs, off again, and prints the server's
user-space instructions per pair (system calls and the kernel are not counted; the
server's background work during those pairs is). Under valgrind a pair takes about a
second, so it runs on any core; nothing is pinned.

    .venv/bin/python bench/write_instructions.py [--pairs 30] [--floor]

For a before/after, run it from two worktrees alternately (PYTHONPATH=<worktree>/src:
<worktree>/generated), as bench/README.md shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc.aio
from harness import start_process
from write_path import REDIS_URL, ROOT, ServicePairs, server_env, timed


def counted_instructions(out: Path) -> int:
    """The instructions callgrind's dumps under ``out`` (one file per process) hold."""
    total = 0
    for dump in out.parent.glob(out.name + "*"):
        for line in dump.read_text().splitlines():
            if line.startswith("totals:"):
                total = max(total, int(line.split()[1]))
    return total


async def callgrind_control(pid: int, *options: str) -> None:
    control = await asyncio.create_subprocess_exec(
        "callgrind_control", *options, str(pid), stdout=asyncio.subprocess.DEVNULL
    )
    if await control.wait() != 0:
        raise RuntimeError(f"callgrind_control {' '.join(options)} failed")


async def counted_pairs(port: int, pid: int, pairs: int, *, authorized: bool) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        service = ServicePairs(channel, authorized=authorized)
        await timed(service.pair, 5)  # warm-up: the account's customer, caches, pools
        await callgrind_control(pid, "--instr=on")
        await timed(service.pair, pairs)
        await callgrind_control(pid, "--instr=off")
    await callgrind_control(pid, "--dump")
    await asyncio.sleep(2)  # the dump is written by the server's own thread, soon after


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--floor", action="store_true", help="bench/write_floor.py's server")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    localstripe = [sys.executable, "tools/localstripe_server.py", "--port", "0"]
    stripe_proc, line = start_process(
        [*localstripe, "--no-access-log"],
        env,
        lambda text: text.startswith("LOCALSTRIPE_LISTENING"),
    )
    stripe_base = line.split()[1]
    env = server_env("postgres", stripe_base)
    migrate = [sys.executable, "-m", "payment_service.cli", "migrate"]
    subprocess.run(migrate, env=env, check=True, capture_output=True, cwd=ROOT)
    out = Path(tempfile.mkdtemp(prefix="bench-callgrind-")) / "callgrind.out"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    valgrind.append(f"--callgrind-out-file={out}")
    if args.floor:
        database = env["PAYMENT_DATABASE_URL"].replace("+psycopg", "")
        floor = [sys.executable, "bench/write_floor.py", "--database", database]
        floor += ["--redis", REDIS_URL, "--stripe", stripe_base]
        server, ready = start_process(
            [*valgrind, *floor], env, lambda text: text.startswith("FLOOR_LISTENING")
        )
        port = int(ready.split()[1])
    else:
        serve = [sys.executable, "-m", "payment_service.cli", "serve"]
        server, ready = start_process([*valgrind, *serve], env, lambda text: '"serving"' in text)
        port = int(json.loads(ready)["grpc_port"])
    try:
        asyncio.run(counted_pairs(port, server.pid, args.pairs, authorized=not args.floor))
    finally:
        for proc in (server, stripe_proc):
            proc.terminate()
            proc.wait(60)
    which = "bench/write_floor.py" if args.floor else "the service"
    per_pair = counted_instructions(out) / args.pairs / 1e6
    shutil.rmtree(out.parent)
    print(f"{which}: {per_pair:.2f} M instructions per pair ({args.pairs} pairs, callgrind)")


if __name__ == "__main__":
    main()
