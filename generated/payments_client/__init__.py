"""A typed client for the payments.v1 services, over the generated stubs.

``aio_channel`` / ``channel`` make a channel with retries on UNAVAILABLE, default
deadlines, a bearer token per call and typed errors; the stubs in ``payments.v1`` take it
as it is. See ``channels`` for the retry rules and ``errors`` for the exceptions.
"""

from payments_client import reasons
from payments_client.channels import (
    RetryPolicy,
    TlsOptions,
    aio_channel,
    channel,
    channel_options,
    intercept,
)
from payments_client.errors import (
    Aborted,
    AlreadyExists,
    AuthenticationRequired,
    CardDeclined,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    PaymentServiceError,
    PermissionDenied,
    QuotaViolation,
    RateLimited,
    RequestIdReused,
    Unavailable,
    from_rpc_error,
    from_status,
)
from payments_client.interceptors import (
    AsyncPolicyInterceptor,
    CallPolicy,
    SyncPolicyInterceptor,
    SyncTokenProvider,
    TokenProvider,
)
from payments_client.request_ids import ensure_request_id, new_request_id, request_id_for

__all__ = [
    "Aborted",
    "AlreadyExists",
    "AsyncPolicyInterceptor",
    "AuthenticationRequired",
    "CallPolicy",
    "CardDeclined",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PaymentServiceError",
    "PermissionDenied",
    "QuotaViolation",
    "RateLimited",
    "RequestIdReused",
    "RetryPolicy",
    "SyncPolicyInterceptor",
    "SyncTokenProvider",
    "TlsOptions",
    "TokenProvider",
    "Unavailable",
    "aio_channel",
    "channel",
    "channel_options",
    "ensure_request_id",
    "from_rpc_error",
    "from_status",
    "intercept",
    "new_request_id",
    "reasons",
    "request_id_for",
]
