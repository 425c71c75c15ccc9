"""tools/localstripe_server.py: loopback only, no shared file, clean stop; the helpers."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.localstripe import LocalStripe

PICKLE = Path("/tmp/localstripe.pickle")


def _mtime(path: Path) -> float | None:
    return path.stat().st_mtime if path.exists() else None


def _listening_addresses(server: LocalStripe) -> list[str]:
    """Local addresses of the server process's listening IPv4/IPv6 TCP sockets (hex, /proc)."""
    out = []
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{server._process.pid}/net/{table}").read_text().splitlines()[1:]
        out += [line.split()[1] for line in lines if line.split()[3] == "0A"]
    return out


async def test_binds_loopback_only_keeps_no_file_and_stops_cleanly() -> None:
    before = _mtime(PICKLE)
    server = LocalStripe.start()
    try:
        assert server.base_url.startswith("http://127.0.0.1:")
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass
        # The listening socket is bound to 127.0.0.1, not to every interface.
        listening = _listening_addresses(server)
        assert f"0100007F:{server.port:04X}" in listening
        assert all(
            not a.endswith(f":{server.port:04X}") for a in listening if not a.startswith("0100007F")
        )

        await server.request("POST", "/v1/customers", {"email": "x@example.com"})
        assert await server.count("customers") == 1
        assert _mtime(PICKLE) == before
    finally:
        status = server.stop()
    assert status == 0
    assert not server.running


async def test_helpers_flush_and_webhook_registration() -> None:
    server = LocalStripe.start()
    try:
        await server.request("POST", "/v1/customers", {"email": "x@example.com"})
        await server.register_webhook(
            "t", "http://127.0.0.1:9/hook", "whsec_x", ["customer.created"]
        )
        await server.flush()
        assert await server.count("customers") == 0
        deleted = await server.wait_for_request("DELETE", "/_config/data")
        assert [r["status"] for r in deleted] == ["200"]
    finally:
        server.stop()
