import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from payments.v1 import invoice_service_pb2 as _invoice_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PauseBehavior(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAUSE_BEHAVIOR_UNSPECIFIED: _ClassVar[PauseBehavior]
    PAUSE_BEHAVIOR_VOID: _ClassVar[PauseBehavior]
    PAUSE_BEHAVIOR_KEEP_AS_DRAFT: _ClassVar[PauseBehavior]
    PAUSE_BEHAVIOR_MARK_UNCOLLECTIBLE: _ClassVar[PauseBehavior]

class SubscriptionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSCRIPTION_STATE_UNSPECIFIED: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_INCOMPLETE: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_INCOMPLETE_EXPIRED: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_TRIALING: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_ACTIVE: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_PAST_DUE: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_UNPAID: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_CANCELED: _ClassVar[SubscriptionState]
    SUBSCRIPTION_STATE_PAUSED: _ClassVar[SubscriptionState]

class PriceInterval(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRICE_INTERVAL_UNSPECIFIED: _ClassVar[PriceInterval]
    PRICE_INTERVAL_DAY: _ClassVar[PriceInterval]
    PRICE_INTERVAL_WEEK: _ClassVar[PriceInterval]
    PRICE_INTERVAL_MONTH: _ClassVar[PriceInterval]
    PRICE_INTERVAL_YEAR: _ClassVar[PriceInterval]

class ProrationBehavior(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRORATION_BEHAVIOR_UNSPECIFIED: _ClassVar[ProrationBehavior]
    PRORATION_BEHAVIOR_CREATE_PRORATIONS: _ClassVar[ProrationBehavior]
    PRORATION_BEHAVIOR_ALWAYS_INVOICE: _ClassVar[ProrationBehavior]
    PRORATION_BEHAVIOR_NONE: _ClassVar[ProrationBehavior]
PAUSE_BEHAVIOR_UNSPECIFIED: PauseBehavior
PAUSE_BEHAVIOR_VOID: PauseBehavior
PAUSE_BEHAVIOR_KEEP_AS_DRAFT: PauseBehavior
PAUSE_BEHAVIOR_MARK_UNCOLLECTIBLE: PauseBehavior
SUBSCRIPTION_STATE_UNSPECIFIED: SubscriptionState
SUBSCRIPTION_STATE_INCOMPLETE: SubscriptionState
SUBSCRIPTION_STATE_INCOMPLETE_EXPIRED: SubscriptionState
SUBSCRIPTION_STATE_TRIALING: SubscriptionState
SUBSCRIPTION_STATE_ACTIVE: SubscriptionState
SUBSCRIPTION_STATE_PAST_DUE: SubscriptionState
SUBSCRIPTION_STATE_UNPAID: SubscriptionState
SUBSCRIPTION_STATE_CANCELED: SubscriptionState
SUBSCRIPTION_STATE_PAUSED: SubscriptionState
PRICE_INTERVAL_UNSPECIFIED: PriceInterval
PRICE_INTERVAL_DAY: PriceInterval
PRICE_INTERVAL_WEEK: PriceInterval
PRICE_INTERVAL_MONTH: PriceInterval
PRICE_INTERVAL_YEAR: PriceInterval
PRORATION_BEHAVIOR_UNSPECIFIED: ProrationBehavior
PRORATION_BEHAVIOR_CREATE_PRORATIONS: ProrationBehavior
PRORATION_BEHAVIOR_ALWAYS_INVOICE: ProrationBehavior
PRORATION_BEHAVIOR_NONE: ProrationBehavior

class SubscriptionItem(_message.Message):
    __slots__ = ("price_id", "quantity", "stripe_item_id", "current_period_start", "current_period_end")
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    STRIPE_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    price_id: str
    quantity: int
    stripe_item_id: str
    current_period_start: _timestamp_pb2.Timestamp
    current_period_end: _timestamp_pb2.Timestamp
    def __init__(self, price_id: _Optional[str] = ..., quantity: _Optional[int] = ..., stripe_item_id: _Optional[str] = ..., current_period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PauseCollection(_message.Message):
    __slots__ = ("behavior", "resume_time")
    BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    RESUME_TIME_FIELD_NUMBER: _ClassVar[int]
    behavior: PauseBehavior
    resume_time: _timestamp_pb2.Timestamp
    def __init__(self, behavior: _Optional[_Union[PauseBehavior, str]] = ..., resume_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("id", "stripe_price_id", "product_name", "unit_amount", "currency_code", "interval", "interval_count", "active", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    stripe_price_id: str
    product_name: str
    unit_amount: int
    currency_code: str
    interval: PriceInterval
    interval_count: int
    active: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., stripe_price_id: _Optional[str] = ..., product_name: _Optional[str] = ..., unit_amount: _Optional[int] = ..., currency_code: _Optional[str] = ..., interval: _Optional[_Union[PriceInterval, str]] = ..., interval_count: _Optional[int] = ..., active: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("id", "account_id", "price_id", "quantity", "state", "cancel_at_period_end", "current_period_start", "current_period_end", "trial_start", "trial_end", "cancel_time", "latest_invoice_id", "stripe_subscription_id", "metadata", "create_time", "update_time", "items", "pending_action", "pause_collection", "stripe_payment_method_id", "trial_will_end_notice_time", "cancel_at")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    TRIAL_START_FIELD_NUMBER: _ClassVar[int]
    TRIAL_END_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TIME_FIELD_NUMBER: _ClassVar[int]
    LATEST_INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PENDING_ACTION_FIELD_NUMBER: _ClassVar[int]
    PAUSE_COLLECTION_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_WILL_END_NOTICE_TIME_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    account_id: str
    price_id: str
    quantity: int
    state: SubscriptionState
    cancel_at_period_end: bool
    current_period_start: _timestamp_pb2.Timestamp
    current_period_end: _timestamp_pb2.Timestamp
    trial_start: _timestamp_pb2.Timestamp
    trial_end: _timestamp_pb2.Timestamp
    cancel_time: _timestamp_pb2.Timestamp
    latest_invoice_id: str
    stripe_subscription_id: str
    metadata: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    items: _containers.RepeatedCompositeFieldContainer[SubscriptionItem]
    pending_action: _invoice_service_pb2.PaymentAction
    pause_collection: PauseCollection
    stripe_payment_method_id: str
    trial_will_end_notice_time: _timestamp_pb2.Timestamp
    cancel_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., account_id: _Optional[str] = ..., price_id: _Optional[str] = ..., quantity: _Optional[int] = ..., state: _Optional[_Union[SubscriptionState, str]] = ..., cancel_at_period_end: _Optional[bool] = ..., current_period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trial_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trial_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_invoice_id: _Optional[str] = ..., stripe_subscription_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items: _Optional[_Iterable[_Union[SubscriptionItem, _Mapping]]] = ..., pending_action: _Optional[_Union[_invoice_service_pb2.PaymentAction, _Mapping]] = ..., pause_collection: _Optional[_Union[PauseCollection, _Mapping]] = ..., stripe_payment_method_id: _Optional[str] = ..., trial_will_end_notice_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSubscriptionRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "price_id", "quantity", "trial_period_days", "stripe_payment_method_id", "metadata", "trial_end")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TRIAL_END_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    price_id: str
    quantity: int
    trial_period_days: int
    stripe_payment_method_id: str
    metadata: _containers.ScalarMap[str, str]
    trial_end: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., price_id: _Optional[str] = ..., quantity: _Optional[int] = ..., trial_period_days: _Optional[int] = ..., stripe_payment_method_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., trial_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class GetSubscriptionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ("account_id", "states", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    states: _containers.RepeatedScalarFieldContainer[SubscriptionState]
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[SubscriptionState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions", "next_page_token")
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    next_page_token: str
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSubscriptionRequest(_message.Message):
    __slots__ = ("request_id", "id", "price_id", "quantity", "proration_behavior", "proration_time")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRORATION_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    PRORATION_TIME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    price_id: str
    quantity: int
    proration_behavior: ProrationBehavior
    proration_time: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ..., price_id: _Optional[str] = ..., quantity: _Optional[int] = ..., proration_behavior: _Optional[_Union[ProrationBehavior, str]] = ..., proration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PreviewSubscriptionChangeRequest(_message.Message):
    __slots__ = ("id", "price_id", "quantity", "proration_behavior")
    ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRORATION_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    price_id: str
    quantity: int
    proration_behavior: ProrationBehavior
    def __init__(self, id: _Optional[str] = ..., price_id: _Optional[str] = ..., quantity: _Optional[int] = ..., proration_behavior: _Optional[_Union[ProrationBehavior, str]] = ...) -> None: ...

class PreviewSubscriptionChangeResponse(_message.Message):
    __slots__ = ("currency_code", "amount_due_now", "next_invoice_total", "proration_lines", "lines", "proration_time")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_NOW_FIELD_NUMBER: _ClassVar[int]
    NEXT_INVOICE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    PRORATION_LINES_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    PRORATION_TIME_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    amount_due_now: int
    next_invoice_total: int
    proration_lines: _containers.RepeatedCompositeFieldContainer[_invoice_service_pb2.InvoiceLine]
    lines: _containers.RepeatedCompositeFieldContainer[_invoice_service_pb2.InvoiceLine]
    proration_time: _timestamp_pb2.Timestamp
    def __init__(self, currency_code: _Optional[str] = ..., amount_due_now: _Optional[int] = ..., next_invoice_total: _Optional[int] = ..., proration_lines: _Optional[_Iterable[_Union[_invoice_service_pb2.InvoiceLine, _Mapping]]] = ..., lines: _Optional[_Iterable[_Union[_invoice_service_pb2.InvoiceLine, _Mapping]]] = ..., proration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PauseSubscriptionRequest(_message.Message):
    __slots__ = ("request_id", "id", "behavior", "resume_time")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    RESUME_TIME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    behavior: PauseBehavior
    resume_time: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ..., behavior: _Optional[_Union[PauseBehavior, str]] = ..., resume_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PauseSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class ListDelinquentSubscriptionsRequest(_message.Message):
    __slots__ = ("states", "page_size", "page_token")
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[SubscriptionState]
    page_size: int
    page_token: str
    def __init__(self, states: _Optional[_Iterable[_Union[SubscriptionState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDelinquentSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions", "next_page_token")
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    next_page_token: str
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class CancelSubscriptionRequest(_message.Message):
    __slots__ = ("request_id", "id", "at_period_end")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    at_period_end: bool
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ..., at_period_end: _Optional[bool] = ...) -> None: ...

class CancelSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class ResumeSubscriptionRequest(_message.Message):
    __slots__ = ("request_id", "id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ResumeSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class ListPricesRequest(_message.Message):
    __slots__ = ("include_inactive", "page_size", "page_token")
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    page_size: int
    page_token: str
    def __init__(self, include_inactive: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPricesResponse(_message.Message):
    __slots__ = ("prices", "next_page_token")
    PRICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[Price]
    next_page_token: str
    def __init__(self, prices: _Optional[_Iterable[_Union[Price, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
