"""Tracing in the composition root: the provider the settings ask for (or a test's), set
as the process's global once, flushed at stop; the adapters it instruments."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from payment_service.config import Settings
from payment_service.observability.tracing import build_tracer_provider

_global_set = False


class TracingFlush:
    """Closes the provider (a resource through ``Closing``): spans still queued are exported
    (briefly) at stop."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider

    async def close(self) -> None:
        """Flush and shut down on a daemon thread: off the event loop, and an exporter that
        hangs past the shutdown's budget (which cuts this wait) cannot hold the exit."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def finished() -> None:
            if not done.done():
                done.set_result(None)

        def shut_down() -> None:
            try:
                self._provider.shutdown()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed before we ended
                    loop.call_soon_threadsafe(finished)

        threading.Thread(target=shut_down, name="tracing-shutdown", daemon=True).start()
        await done


def process_tracer_provider(settings: Settings) -> TracerProvider | None:
    """The settings' provider, made the global one (for library and background spans) the
    first time a process builds one."""
    global _global_set
    provider = build_tracer_provider(settings)
    if provider is not None and not _global_set:
        trace.set_tracer_provider(provider)
        _global_set = True
    return provider
