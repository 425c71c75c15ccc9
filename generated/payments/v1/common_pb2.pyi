from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_ARGUMENT: _ClassVar[ErrorReason]
    ERROR_REASON_REQUEST_ID_REUSED: _ClassVar[ErrorReason]
    ERROR_REASON_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_STATE_TRANSITION: _ClassVar[ErrorReason]
    ERROR_REASON_CARD_DECLINED: _ClassVar[ErrorReason]
    ERROR_REASON_PAYMENT_NOT_REFUNDABLE: _ClassVar[ErrorReason]
    ERROR_REASON_REFUND_EXCEEDS_REFUNDABLE: _ClassVar[ErrorReason]
    ERROR_REASON_CONCURRENT_UPDATE: _ClassVar[ErrorReason]
    ERROR_REASON_TOKEN_MISSING: _ClassVar[ErrorReason]
    ERROR_REASON_TOKEN_INVALID: _ClassVar[ErrorReason]
    ERROR_REASON_TOKEN_EXPIRED: _ClassVar[ErrorReason]
    ERROR_REASON_MISSING_SCOPE: _ClassVar[ErrorReason]
    ERROR_REASON_RATE_LIMITED: _ClassVar[ErrorReason]
    ERROR_REASON_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_ALREADY_EXISTS: _ClassVar[ErrorReason]
    ERROR_REASON_PAYMENT_METHOD_REQUIRED: _ClassVar[ErrorReason]
    ERROR_REASON_PRICE_INACTIVE: _ClassVar[ErrorReason]
    ERROR_REASON_ACCOUNT_RESTRICTED: _ClassVar[ErrorReason]
    ERROR_REASON_AUTHENTICATION_REQUIRED: _ClassVar[ErrorReason]
    ERROR_REASON_PAYMENT_DISPUTED: _ClassVar[ErrorReason]

class CaptureMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPTURE_METHOD_UNSPECIFIED: _ClassVar[CaptureMethod]
    CAPTURE_METHOD_AUTOMATIC: _ClassVar[CaptureMethod]
    CAPTURE_METHOD_MANUAL: _ClassVar[CaptureMethod]
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_INVALID_ARGUMENT: ErrorReason
ERROR_REASON_REQUEST_ID_REUSED: ErrorReason
ERROR_REASON_NOT_FOUND: ErrorReason
ERROR_REASON_INVALID_STATE_TRANSITION: ErrorReason
ERROR_REASON_CARD_DECLINED: ErrorReason
ERROR_REASON_PAYMENT_NOT_REFUNDABLE: ErrorReason
ERROR_REASON_REFUND_EXCEEDS_REFUNDABLE: ErrorReason
ERROR_REASON_CONCURRENT_UPDATE: ErrorReason
ERROR_REASON_TOKEN_MISSING: ErrorReason
ERROR_REASON_TOKEN_INVALID: ErrorReason
ERROR_REASON_TOKEN_EXPIRED: ErrorReason
ERROR_REASON_MISSING_SCOPE: ErrorReason
ERROR_REASON_RATE_LIMITED: ErrorReason
ERROR_REASON_UNAVAILABLE: ErrorReason
ERROR_REASON_ALREADY_EXISTS: ErrorReason
ERROR_REASON_PAYMENT_METHOD_REQUIRED: ErrorReason
ERROR_REASON_PRICE_INACTIVE: ErrorReason
ERROR_REASON_ACCOUNT_RESTRICTED: ErrorReason
ERROR_REASON_AUTHENTICATION_REQUIRED: ErrorReason
ERROR_REASON_PAYMENT_DISPUTED: ErrorReason
CAPTURE_METHOD_UNSPECIFIED: CaptureMethod
CAPTURE_METHOD_AUTOMATIC: CaptureMethod
CAPTURE_METHOD_MANUAL: CaptureMethod
