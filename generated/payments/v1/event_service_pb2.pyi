import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from payments.v1 import dispute_service_pb2 as _dispute_service_pb2
from payments.v1 import invoice_service_pb2 as _invoice_service_pb2
from payments.v1 import payment_service_pb2 as _payment_service_pb2
from payments.v1 import refund_service_pb2 as _refund_service_pb2
from payments.v1 import subscription_service_pb2 as _subscription_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("id", "cursor", "type", "object_type", "object_id", "account_id", "create_time", "trace_parent", "payment", "refund", "payment_method", "subscription", "invoice", "dispute")
    ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TRACE_PARENT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    cursor: str
    type: str
    object_type: str
    object_id: str
    account_id: str
    create_time: _timestamp_pb2.Timestamp
    trace_parent: str
    payment: _payment_service_pb2.Payment
    refund: _refund_service_pb2.Refund
    payment_method: _payment_service_pb2.PaymentMethod
    subscription: _subscription_service_pb2.Subscription
    invoice: _invoice_service_pb2.Invoice
    dispute: _dispute_service_pb2.Dispute
    def __init__(self, id: _Optional[str] = ..., cursor: _Optional[str] = ..., type: _Optional[str] = ..., object_type: _Optional[str] = ..., object_id: _Optional[str] = ..., account_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trace_parent: _Optional[str] = ..., payment: _Optional[_Union[_payment_service_pb2.Payment, _Mapping]] = ..., refund: _Optional[_Union[_refund_service_pb2.Refund, _Mapping]] = ..., payment_method: _Optional[_Union[_payment_service_pb2.PaymentMethod, _Mapping]] = ..., subscription: _Optional[_Union[_subscription_service_pb2.Subscription, _Mapping]] = ..., invoice: _Optional[_Union[_invoice_service_pb2.Invoice, _Mapping]] = ..., dispute: _Optional[_Union[_dispute_service_pb2.Dispute, _Mapping]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("account_id", "types", "after_cursor", "from_now")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    FROM_NOW_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    types: _containers.RepeatedScalarFieldContainer[str]
    after_cursor: str
    from_now: bool
    def __init__(self, account_id: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ..., after_cursor: _Optional[str] = ..., from_now: _Optional[bool] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ("event", "heartbeat", "cursor")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    event: Event
    heartbeat: bool
    cursor: str
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ..., heartbeat: _Optional[bool] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("account_id", "types", "after_cursor", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    types: _containers.RepeatedScalarFieldContainer[str]
    after_cursor: str
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ..., after_cursor: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token", "cursor")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    next_page_token: str
    cursor: str
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., cursor: _Optional[str] = ...) -> None: ...
