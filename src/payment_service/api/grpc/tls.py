"""TLS and mutual TLS for the gRPC listener, with certificates that reload without a restart.

With ``grpc_tls_cert_file`` and ``grpc_tls_key_file`` the listener speaks TLS only; with
``grpc_tls_client_ca_file`` as well, a client must present a certificate that CA signed,
or the handshake fails (mutual TLS). gRPC asks for the certificate configuration before
every handshake; the files are looked at (their size and mtime) at most once per
``grpc_tls_reload_s`` and read again only when they changed, so a rotated certificate
serves the next connection and connections already open keep theirs. A rotation that
leaves unreadable files keeps the last good configuration (and says so in the log).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc

from payment_service.config import ConfigError, Settings

_log = logging.getLogger(__name__)

Stamp = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path | None

    @classmethod
    def from_settings(cls, settings: Settings) -> TlsFiles | None:
        cert, key, ca = (
            settings.grpc_tls_cert_file,
            settings.grpc_tls_key_file,
            settings.grpc_tls_client_ca_file,
        )
        if cert is None and key is None:
            if ca is not None:
                raise ConfigError("grpc_tls_client_ca_file: needs grpc_tls_cert_file and key_file")
            return None
        if cert is None or key is None:
            raise ConfigError("grpc_tls_cert_file and grpc_tls_key_file: set both or neither")
        return cls(Path(cert), Path(key), Path(ca) if ca is not None else None)

    @property
    def paths(self) -> Sequence[Path]:
        return (self.cert, self.key) + ((self.client_ca,) if self.client_ca else ())

    def stamp(self) -> Stamp:
        stats = [os.stat(path) for path in self.paths]
        return tuple((s.st_mtime_ns, s.st_size) for s in stats)

    def load(self) -> grpc.ServerCertificateConfiguration:
        pair = [(self.key.read_bytes(), self.cert.read_bytes())]
        root = self.client_ca.read_bytes() if self.client_ca else None
        return grpc.ssl_server_certificate_configuration(pair, root_certificates=root)


class ReloadingCertificates:
    """The fetcher gRPC calls before each handshake: a new configuration when the files
    changed, else None (keep the current one)."""

    def __init__(
        self, files: TlsFiles, *, every_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._files = files
        self._every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()  # gRPC may call from its own threads
        self._stamp = files.stamp()
        self.initial = files.load()
        self._checked_at = clock()
        self.reloads = 0

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        now = self._clock()
        with self._lock:
            if now - self._checked_at < self._every_s:
                return None
            self._checked_at = now
            try:
                stamp = self._files.stamp()
                if stamp == self._stamp:
                    return None
                configuration = self._files.load()
            except OSError as error:
                _log.warning("tls reload failed; keeping the current certificate: %s", error)
                return None
            self._stamp = stamp
            self.reloads += 1
        _log.info("tls certificate reloaded", extra={"cert": str(self._files.cert)})
        return configuration


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials for the listener, or None for plaintext (the development default)."""
    files = TlsFiles.from_settings(settings)
    if files is None:
        return None
    try:
        certificates = ReloadingCertificates(files, every_s=settings.grpc_tls_reload_s)
    except OSError as error:
        raise ConfigError(f"grpc_tls_*_file: cannot read {error.filename}") from None
    # The stubs say the fetcher returns a configuration; gRPC's docs (and code) take None
    # as "no change", which is what it returns between rotations.
    fetcher = cast("Callable[[], grpc.ServerCertificateConfiguration]", certificates)
    return grpc.dynamic_ssl_server_credentials(
        certificates.initial,
        fetcher,
        require_client_authentication=files.client_ca is not None,
    )


def certificate_identity(auth_context: Mapping[str, Iterable[bytes]]) -> str | None:
    """The client certificate's subject (or common name) from gRPC's auth context."""
    for key, prefix in (("x509_subject", ""), ("x509_common_name", "CN=")):
        value = next(iter(auth_context.get(key, ())), None)
        if value:
            return prefix + value.decode("utf-8", "replace")[:500]
    return None
