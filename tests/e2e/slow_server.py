"""Test-only entry point: the real composition root with a PaymentService whose GetPayment is slow.

Run as ``python -m tests.e2e.slow_server``; ``E2E_SLOW_RPC_SECONDS`` sets the delay. It logs
"slow call started" when a call arrives, so a test knows the call is in flight.
"""

from __future__ import annotations

import asyncio
import logging
import os

import grpc.aio
from payments.v1 import payment_service_pb2, payment_service_pb2_grpc

from payment_service.api.grpc.services import Servicers
from payment_service.bootstrap.app import serve
from payment_service.config import load_settings

_log = logging.getLogger("tests.e2e.slow_server")


class SlowPayments(payment_service_pb2_grpc.PaymentServiceServicer):
    def __init__(self, delay_s: float) -> None:
        self._delay_s = delay_s

    async def GetPayment(
        self, request: payment_service_pb2.GetPaymentRequest, context: grpc.aio.ServicerContext
    ) -> payment_service_pb2.GetPaymentResponse:
        _log.info("slow call started", extra={"payment_id": request.id})
        await asyncio.sleep(self._delay_s)
        return payment_service_pb2.GetPaymentResponse(
            payment=payment_service_pb2.Payment(id=request.id)
        )


def main() -> None:
    delay_s = float(os.environ.get("E2E_SLOW_RPC_SECONDS", "1.0"))
    asyncio.run(serve(load_settings(), servicers=Servicers(payment=SlowPayments(delay_s))))


if __name__ == "__main__":
    main()
