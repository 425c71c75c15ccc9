import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefundState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_STATE_UNSPECIFIED: _ClassVar[RefundState]
    REFUND_STATE_PENDING: _ClassVar[RefundState]
    REFUND_STATE_REQUIRES_ACTION: _ClassVar[RefundState]
    REFUND_STATE_SUCCEEDED: _ClassVar[RefundState]
    REFUND_STATE_FAILED: _ClassVar[RefundState]
    REFUND_STATE_CANCELED: _ClassVar[RefundState]

class RefundReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_REASON_UNSPECIFIED: _ClassVar[RefundReason]
    REFUND_REASON_DUPLICATE: _ClassVar[RefundReason]
    REFUND_REASON_FRAUDULENT: _ClassVar[RefundReason]
    REFUND_REASON_REQUESTED_BY_CUSTOMER: _ClassVar[RefundReason]
REFUND_STATE_UNSPECIFIED: RefundState
REFUND_STATE_PENDING: RefundState
REFUND_STATE_REQUIRES_ACTION: RefundState
REFUND_STATE_SUCCEEDED: RefundState
REFUND_STATE_FAILED: RefundState
REFUND_STATE_CANCELED: RefundState
REFUND_REASON_UNSPECIFIED: RefundReason
REFUND_REASON_DUPLICATE: RefundReason
REFUND_REASON_FRAUDULENT: RefundReason
REFUND_REASON_REQUESTED_BY_CUSTOMER: RefundReason

class Refund(_message.Message):
    __slots__ = ("id", "payment_id", "account_id", "amount", "currency_code", "reason", "state", "failure_reason", "stripe_refund_id", "metadata", "create_time", "update_time")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    STRIPE_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    payment_id: str
    account_id: str
    amount: int
    currency_code: str
    reason: RefundReason
    state: RefundState
    failure_reason: str
    stripe_refund_id: str
    metadata: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., payment_id: _Optional[str] = ..., account_id: _Optional[str] = ..., amount: _Optional[int] = ..., currency_code: _Optional[str] = ..., reason: _Optional[_Union[RefundReason, str]] = ..., state: _Optional[_Union[RefundState, str]] = ..., failure_reason: _Optional[str] = ..., stripe_refund_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateRefundRequest(_message.Message):
    __slots__ = ("request_id", "payment_id", "amount", "reason", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    payment_id: str
    amount: int
    reason: RefundReason
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, request_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., amount: _Optional[int] = ..., reason: _Optional[_Union[RefundReason, str]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateRefundResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: Refund
    def __init__(self, refund: _Optional[_Union[Refund, _Mapping]] = ...) -> None: ...

class GetRefundRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRefundResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: Refund
    def __init__(self, refund: _Optional[_Union[Refund, _Mapping]] = ...) -> None: ...

class ListRefundsRequest(_message.Message):
    __slots__ = ("payment_id", "account_id", "page_size", "page_token")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    account_id: str
    page_size: int
    page_token: str
    def __init__(self, payment_id: _Optional[str] = ..., account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRefundsResponse(_message.Message):
    __slots__ = ("refunds", "next_page_token")
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refunds: _containers.RepeatedCompositeFieldContainer[Refund]
    next_page_token: str
    def __init__(self, refunds: _Optional[_Iterable[_Union[Refund, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
