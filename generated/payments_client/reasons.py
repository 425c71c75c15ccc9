"""The ``google.rpc.ErrorInfo.reason`` values the service sends (domain ``payments.v1``).

``protos/payments/v1/common.proto`` (``ErrorReason``) documents the stable core; the
service also sends the finer reasons below. New reasons may appear: treat an unknown
one like its status code alone (the exception class is chosen by code then).
"""

from __future__ import annotations

# INVALID_ARGUMENT
INVALID_ARGUMENT = "INVALID_ARGUMENT"  # a field is malformed; BadRequest names it
REQUEST_ID_REUSED = "REQUEST_ID_REUSED"  # same request_id, different body (AIP-155)
PROCESSOR_REJECTED_REQUEST = (
    "PROCESSOR_REJECTED_REQUEST"  # Stripe refused a value; metadata `param`
)

# NOT_FOUND
NOT_FOUND = "NOT_FOUND"  # metadata `resource`, `id`

# FAILED_PRECONDITION
FAILED_PRECONDITION = "FAILED_PRECONDITION"
INVALID_STATE_TRANSITION = "INVALID_STATE_TRANSITION"  # metadata `entity`, `id`, `state`, `target`
CARD_DECLINED = "CARD_DECLINED"  # metadata `code`, `decline_code`, `payment_id`
# An off-session payment the bank wants authenticated: bring the customer back and
# ConfirmPayment the same payment; metadata `payment_id`, `code`, `decline_code`.
AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
PAYMENT_DISPUTED = "PAYMENT_DISPUTED"  # no refund of a disputed payment; metadata `dispute_id`
PAYMENT_FAILED = "PAYMENT_FAILED"  # a replayed CreatePayment whose payment failed; `payment_id`
PAYMENT_PENDING = "PAYMENT_PENDING"  # not yet known at Stripe: retry CreatePayment first
PAYMENT_METHOD_DETACHED = "PAYMENT_METHOD_DETACHED"
PAYMENT_METHOD_REQUIRED = "PAYMENT_METHOD_REQUIRED"
PAYMENT_NOT_REFUNDABLE = "PAYMENT_NOT_REFUNDABLE"  # only succeeded payments are refunded
REFUND_EXCEEDS_REFUNDABLE = "REFUND_EXCEEDS_REFUNDABLE"  # metadata `refundable`, `amount`
REFUND_REJECTED = "REFUND_REJECTED"  # Stripe refused the refund; metadata `refund_id`, `code`
SUBSCRIPTION_PENDING = "SUBSCRIPTION_PENDING"  # not yet known at Stripe: retry CreateSubscription
SUBSCRIPTION_FAILED = "SUBSCRIPTION_FAILED"
PRICE_INACTIVE = "PRICE_INACTIVE"
PROCESSOR_IDEMPOTENCY_CONFLICT = "PROCESSOR_IDEMPOTENCY_CONFLICT"
# Stripe's own state error codes, upper-cased (FAILED_PRECONDITION, metadata `stripe_code`).
STRIPE_STATE_REASONS = frozenset(
    {
        "PAYMENT_INTENT_UNEXPECTED_STATE",
        "PAYMENT_INTENT_ACTION_REQUIRED",
        "PAYMENT_INTENT_AUTHENTICATION_FAILURE",
        "PAYMENT_INTENT_INCOMPATIBLE_PAYMENT_METHOD",
        "PAYMENT_INTENT_PAYMENT_ATTEMPT_FAILED",
        "CHARGE_ALREADY_CAPTURED",
        "CHARGE_ALREADY_REFUNDED",
        "CHARGE_DISPUTED",
        "CHARGE_EXPIRED_FOR_CAPTURE",
        "CHARGE_NOT_REFUNDABLE",
        "REFUND_DISPUTED_PAYMENT",
        "CUSTOMER_MAX_PAYMENT_METHODS",
        "PAYMENT_METHOD_UNEXPECTED_STATE",
        "BALANCE_INSUFFICIENT",
        "AMOUNT_TOO_LARGE",
    }
)

# ALREADY_EXISTS
ALREADY_EXISTS = "ALREADY_EXISTS"  # metadata `constraint`

# ABORTED
CONCURRENT_UPDATE = "CONCURRENT_UPDATE"  # lost a race; retrying is safe

# UNAUTHENTICATED
UNAUTHENTICATED = "UNAUTHENTICATED"
TOKEN_MISSING = "TOKEN_MISSING"
TOKEN_INVALID = "TOKEN_INVALID"
TOKEN_EXPIRED = "TOKEN_EXPIRED"

# PERMISSION_DENIED
MISSING_SCOPE = "MISSING_SCOPE"  # metadata `scope`
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"  # no scope opens the method; metadata `method`
ACCOUNT_RESTRICTED = "ACCOUNT_RESTRICTED"  # spans accounts, token is for one

# RESOURCE_EXHAUSTED (RetryInfo; QuotaFailure for our own limits)
RATE_LIMITED = "RATE_LIMITED"  # metadata `limit`, `quota_subject`
PROCESSOR_RATE_LIMITED = "PROCESSOR_RATE_LIMITED"  # Stripe's limit (also sent as UNAVAILABLE)
EVENT_STREAM_BEHIND = "EVENT_STREAM_BEHIND"  # WatchEvents fell behind; metadata `resume_cursor`

# UNAVAILABLE (RetryInfo): the outcome of a write is not known; retry with the same request_id
UNAVAILABLE = "UNAVAILABLE"  # the database
OUTCOME_PENDING = "OUTCOME_PENDING"  # the answer's time ran out; the work goes on
PAYMENT_IN_PROGRESS = "PAYMENT_IN_PROGRESS"  # another request is sending it to Stripe
REFUND_IN_PROGRESS = "REFUND_IN_PROGRESS"
SUBSCRIPTION_IN_PROGRESS = "SUBSCRIPTION_IN_PROGRESS"
SETUP_INTENT_IN_PROGRESS = "SETUP_INTENT_IN_PROGRESS"
PROCESSOR_UNAVAILABLE = "PROCESSOR_UNAVAILABLE"
PROCESSOR_TIMEOUT = "PROCESSOR_TIMEOUT"
PROCESSOR_MISCONFIGURED = "PROCESSOR_MISCONFIGURED"
PROCESSOR_UNEXPECTED_RESPONSE = "PROCESSOR_UNEXPECTED_RESPONSE"
DEADLINE_TOO_SHORT = "DEADLINE_TOO_SHORT"  # too little time left to call Stripe
EVENT_STREAM_CLOSED = "EVENT_STREAM_CLOSED"  # WatchEvents ended by a shutdown; `resume_cursor`

# INTERNAL
INTERNAL = "INTERNAL"  # a bug; the message says nothing more

ALL_REASONS = frozenset(
    {value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)}
    | STRIPE_STATE_REASONS
)
