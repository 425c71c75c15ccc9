import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from payments.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATE_UNSPECIFIED: _ClassVar[PaymentState]
    PAYMENT_STATE_PENDING: _ClassVar[PaymentState]
    PAYMENT_STATE_REQUIRES_PAYMENT_METHOD: _ClassVar[PaymentState]
    PAYMENT_STATE_REQUIRES_CONFIRMATION: _ClassVar[PaymentState]
    PAYMENT_STATE_REQUIRES_ACTION: _ClassVar[PaymentState]
    PAYMENT_STATE_PROCESSING: _ClassVar[PaymentState]
    PAYMENT_STATE_REQUIRES_CAPTURE: _ClassVar[PaymentState]
    PAYMENT_STATE_SUCCEEDED: _ClassVar[PaymentState]
    PAYMENT_STATE_CANCELED: _ClassVar[PaymentState]
    PAYMENT_STATE_FAILED: _ClassVar[PaymentState]

class PaymentRefundState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_REFUND_STATE_UNSPECIFIED: _ClassVar[PaymentRefundState]
    PAYMENT_REFUND_STATE_NONE: _ClassVar[PaymentRefundState]
    PAYMENT_REFUND_STATE_PARTIALLY_REFUNDED: _ClassVar[PaymentRefundState]
    PAYMENT_REFUND_STATE_REFUNDED: _ClassVar[PaymentRefundState]

class CancellationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANCELLATION_REASON_UNSPECIFIED: _ClassVar[CancellationReason]
    CANCELLATION_REASON_DUPLICATE: _ClassVar[CancellationReason]
    CANCELLATION_REASON_FRAUDULENT: _ClassVar[CancellationReason]
    CANCELLATION_REASON_REQUESTED_BY_CUSTOMER: _ClassVar[CancellationReason]
    CANCELLATION_REASON_ABANDONED: _ClassVar[CancellationReason]

class PaymentMethodState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_METHOD_STATE_UNSPECIFIED: _ClassVar[PaymentMethodState]
    PAYMENT_METHOD_STATE_ATTACHED: _ClassVar[PaymentMethodState]
    PAYMENT_METHOD_STATE_DETACHED: _ClassVar[PaymentMethodState]

class PaymentMethodUsage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_METHOD_USAGE_UNSPECIFIED: _ClassVar[PaymentMethodUsage]
    PAYMENT_METHOD_USAGE_ON_SESSION: _ClassVar[PaymentMethodUsage]
    PAYMENT_METHOD_USAGE_OFF_SESSION: _ClassVar[PaymentMethodUsage]

class SetupIntentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETUP_INTENT_STATE_UNSPECIFIED: _ClassVar[SetupIntentState]
    SETUP_INTENT_STATE_PENDING: _ClassVar[SetupIntentState]
    SETUP_INTENT_STATE_REQUIRES_PAYMENT_METHOD: _ClassVar[SetupIntentState]
    SETUP_INTENT_STATE_REQUIRES_CONFIRMATION: _ClassVar[SetupIntentState]
    SETUP_INTENT_STATE_REQUIRES_ACTION: _ClassVar[SetupIntentState]
    SETUP_INTENT_STATE_PROCESSING: _ClassVar[SetupIntentState]
    SETUP_INTENT_STATE_SUCCEEDED: _ClassVar[SetupIntentState]
    SETUP_INTENT_STATE_CANCELED: _ClassVar[SetupIntentState]
    SETUP_INTENT_STATE_FAILED: _ClassVar[SetupIntentState]
PAYMENT_STATE_UNSPECIFIED: PaymentState
PAYMENT_STATE_PENDING: PaymentState
PAYMENT_STATE_REQUIRES_PAYMENT_METHOD: PaymentState
PAYMENT_STATE_REQUIRES_CONFIRMATION: PaymentState
PAYMENT_STATE_REQUIRES_ACTION: PaymentState
PAYMENT_STATE_PROCESSING: PaymentState
PAYMENT_STATE_REQUIRES_CAPTURE: PaymentState
PAYMENT_STATE_SUCCEEDED: PaymentState
PAYMENT_STATE_CANCELED: PaymentState
PAYMENT_STATE_FAILED: PaymentState
PAYMENT_REFUND_STATE_UNSPECIFIED: PaymentRefundState
PAYMENT_REFUND_STATE_NONE: PaymentRefundState
PAYMENT_REFUND_STATE_PARTIALLY_REFUNDED: PaymentRefundState
PAYMENT_REFUND_STATE_REFUNDED: PaymentRefundState
CANCELLATION_REASON_UNSPECIFIED: CancellationReason
CANCELLATION_REASON_DUPLICATE: CancellationReason
CANCELLATION_REASON_FRAUDULENT: CancellationReason
CANCELLATION_REASON_REQUESTED_BY_CUSTOMER: CancellationReason
CANCELLATION_REASON_ABANDONED: CancellationReason
PAYMENT_METHOD_STATE_UNSPECIFIED: PaymentMethodState
PAYMENT_METHOD_STATE_ATTACHED: PaymentMethodState
PAYMENT_METHOD_STATE_DETACHED: PaymentMethodState
PAYMENT_METHOD_USAGE_UNSPECIFIED: PaymentMethodUsage
PAYMENT_METHOD_USAGE_ON_SESSION: PaymentMethodUsage
PAYMENT_METHOD_USAGE_OFF_SESSION: PaymentMethodUsage
SETUP_INTENT_STATE_UNSPECIFIED: SetupIntentState
SETUP_INTENT_STATE_PENDING: SetupIntentState
SETUP_INTENT_STATE_REQUIRES_PAYMENT_METHOD: SetupIntentState
SETUP_INTENT_STATE_REQUIRES_CONFIRMATION: SetupIntentState
SETUP_INTENT_STATE_REQUIRES_ACTION: SetupIntentState
SETUP_INTENT_STATE_PROCESSING: SetupIntentState
SETUP_INTENT_STATE_SUCCEEDED: SetupIntentState
SETUP_INTENT_STATE_CANCELED: SetupIntentState
SETUP_INTENT_STATE_FAILED: SetupIntentState

class NextAction(_message.Message):
    __slots__ = ("type", "redirect_url")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URL_FIELD_NUMBER: _ClassVar[int]
    type: str
    redirect_url: str
    def __init__(self, type: _Optional[str] = ..., redirect_url: _Optional[str] = ...) -> None: ...

class PaymentError(_message.Message):
    __slots__ = ("code", "decline_code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DECLINE_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    decline_code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., decline_code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("id", "account_id", "amount", "currency_code", "amount_capturable", "amount_received", "amount_refunded", "state", "refund_state", "capture_method", "next_action", "client_secret", "last_error", "receipt_url", "receipt_email", "description", "stripe_payment_method_id", "stripe_payment_intent_id", "stripe_customer_id", "metadata", "create_time", "update_time", "invoice_id", "off_session", "setup_future_usage", "disputed", "dispute_id")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CAPTURABLE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REFUND_STATE_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_METHOD_FIELD_NUMBER: _ClassVar[int]
    NEXT_ACTION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_URL_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_EMAIL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    OFF_SESSION_FIELD_NUMBER: _ClassVar[int]
    SETUP_FUTURE_USAGE_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    account_id: str
    amount: int
    currency_code: str
    amount_capturable: int
    amount_received: int
    amount_refunded: int
    state: PaymentState
    refund_state: PaymentRefundState
    capture_method: _common_pb2.CaptureMethod
    next_action: NextAction
    client_secret: str
    last_error: PaymentError
    receipt_url: str
    receipt_email: str
    description: str
    stripe_payment_method_id: str
    stripe_payment_intent_id: str
    stripe_customer_id: str
    metadata: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    invoice_id: str
    off_session: bool
    setup_future_usage: PaymentMethodUsage
    disputed: bool
    dispute_id: str
    def __init__(self, id: _Optional[str] = ..., account_id: _Optional[str] = ..., amount: _Optional[int] = ..., currency_code: _Optional[str] = ..., amount_capturable: _Optional[int] = ..., amount_received: _Optional[int] = ..., amount_refunded: _Optional[int] = ..., state: _Optional[_Union[PaymentState, str]] = ..., refund_state: _Optional[_Union[PaymentRefundState, str]] = ..., capture_method: _Optional[_Union[_common_pb2.CaptureMethod, str]] = ..., next_action: _Optional[_Union[NextAction, _Mapping]] = ..., client_secret: _Optional[str] = ..., last_error: _Optional[_Union[PaymentError, _Mapping]] = ..., receipt_url: _Optional[str] = ..., receipt_email: _Optional[str] = ..., description: _Optional[str] = ..., stripe_payment_method_id: _Optional[str] = ..., stripe_payment_intent_id: _Optional[str] = ..., stripe_customer_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., invoice_id: _Optional[str] = ..., off_session: _Optional[bool] = ..., setup_future_usage: _Optional[_Union[PaymentMethodUsage, str]] = ..., disputed: _Optional[bool] = ..., dispute_id: _Optional[str] = ...) -> None: ...

class CreatePaymentRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "amount", "currency_code", "stripe_payment_method_id", "capture_method", "confirm", "description", "receipt_email", "metadata", "off_session", "setup_future_usage")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_METHOD_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_EMAIL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OFF_SESSION_FIELD_NUMBER: _ClassVar[int]
    SETUP_FUTURE_USAGE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    amount: int
    currency_code: str
    stripe_payment_method_id: str
    capture_method: _common_pb2.CaptureMethod
    confirm: bool
    description: str
    receipt_email: str
    metadata: _containers.ScalarMap[str, str]
    off_session: bool
    setup_future_usage: PaymentMethodUsage
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., amount: _Optional[int] = ..., currency_code: _Optional[str] = ..., stripe_payment_method_id: _Optional[str] = ..., capture_method: _Optional[_Union[_common_pb2.CaptureMethod, str]] = ..., confirm: _Optional[bool] = ..., description: _Optional[str] = ..., receipt_email: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., off_session: _Optional[bool] = ..., setup_future_usage: _Optional[_Union[PaymentMethodUsage, str]] = ...) -> None: ...

class CreatePaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ...) -> None: ...

class GetPaymentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ...) -> None: ...

class ListPaymentsRequest(_message.Message):
    __slots__ = ("account_id", "states", "created_after", "created_before", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    states: _containers.RepeatedScalarFieldContainer[PaymentState]
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[PaymentState, str]]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPaymentsResponse(_message.Message):
    __slots__ = ("payments", "next_page_token")
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    next_page_token: str
    def __init__(self, payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ConfirmPaymentRequest(_message.Message):
    __slots__ = ("request_id", "id", "stripe_payment_method_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    stripe_payment_method_id: str
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ..., stripe_payment_method_id: _Optional[str] = ...) -> None: ...

class ConfirmPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ...) -> None: ...

class CapturePaymentRequest(_message.Message):
    __slots__ = ("request_id", "id", "amount_to_capture")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_TO_CAPTURE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    amount_to_capture: int
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ..., amount_to_capture: _Optional[int] = ...) -> None: ...

class CapturePaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ...) -> None: ...

class CancelPaymentRequest(_message.Message):
    __slots__ = ("request_id", "id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    reason: CancellationReason
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ..., reason: _Optional[_Union[CancellationReason, str]] = ...) -> None: ...

class CancelPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("id", "account_id", "stripe_customer_id", "default_payment_method_id", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    account_id: str
    stripe_customer_id: str
    default_payment_method_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., account_id: _Optional[str] = ..., stripe_customer_id: _Optional[str] = ..., default_payment_method_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class GetCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class Card(_message.Message):
    __slots__ = ("brand", "last4", "exp_month", "exp_year", "fingerprint")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    EXP_MONTH_FIELD_NUMBER: _ClassVar[int]
    EXP_YEAR_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    def __init__(self, brand: _Optional[str] = ..., last4: _Optional[str] = ..., exp_month: _Optional[int] = ..., exp_year: _Optional[int] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class PaymentMethod(_message.Message):
    __slots__ = ("id", "account_id", "stripe_payment_method_id", "type", "card", "billing_name", "is_default", "state", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    BILLING_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    account_id: str
    stripe_payment_method_id: str
    type: str
    card: Card
    billing_name: str
    is_default: bool
    state: PaymentMethodState
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., account_id: _Optional[str] = ..., stripe_payment_method_id: _Optional[str] = ..., type: _Optional[str] = ..., card: _Optional[_Union[Card, _Mapping]] = ..., billing_name: _Optional[str] = ..., is_default: _Optional[bool] = ..., state: _Optional[_Union[PaymentMethodState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AttachPaymentMethodRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "stripe_payment_method_id", "set_default")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    SET_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    stripe_payment_method_id: str
    set_default: bool
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., stripe_payment_method_id: _Optional[str] = ..., set_default: _Optional[bool] = ...) -> None: ...

class AttachPaymentMethodResponse(_message.Message):
    __slots__ = ("payment_method",)
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    payment_method: PaymentMethod
    def __init__(self, payment_method: _Optional[_Union[PaymentMethod, _Mapping]] = ...) -> None: ...

class ListPaymentMethodsRequest(_message.Message):
    __slots__ = ("account_id", "include_detached", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DETACHED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    include_detached: bool
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., include_detached: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPaymentMethodsResponse(_message.Message):
    __slots__ = ("payment_methods", "next_page_token")
    PAYMENT_METHODS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payment_methods: _containers.RepeatedCompositeFieldContainer[PaymentMethod]
    next_page_token: str
    def __init__(self, payment_methods: _Optional[_Iterable[_Union[PaymentMethod, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DetachPaymentMethodRequest(_message.Message):
    __slots__ = ("request_id", "id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class DetachPaymentMethodResponse(_message.Message):
    __slots__ = ("payment_method",)
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    payment_method: PaymentMethod
    def __init__(self, payment_method: _Optional[_Union[PaymentMethod, _Mapping]] = ...) -> None: ...

class SetDefaultPaymentMethodRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    id: str
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class SetDefaultPaymentMethodResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class SetupIntent(_message.Message):
    __slots__ = ("id", "account_id", "usage", "state", "client_secret", "next_action", "last_error", "stripe_setup_intent_id", "stripe_payment_method_id", "payment_method_id", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    NEXT_ACTION_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    STRIPE_SETUP_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    account_id: str
    usage: PaymentMethodUsage
    state: SetupIntentState
    client_secret: str
    next_action: NextAction
    last_error: PaymentError
    stripe_setup_intent_id: str
    stripe_payment_method_id: str
    payment_method_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., account_id: _Optional[str] = ..., usage: _Optional[_Union[PaymentMethodUsage, str]] = ..., state: _Optional[_Union[SetupIntentState, str]] = ..., client_secret: _Optional[str] = ..., next_action: _Optional[_Union[NextAction, _Mapping]] = ..., last_error: _Optional[_Union[PaymentError, _Mapping]] = ..., stripe_setup_intent_id: _Optional[str] = ..., stripe_payment_method_id: _Optional[str] = ..., payment_method_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSetupIntentRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "usage")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    usage: PaymentMethodUsage
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., usage: _Optional[_Union[PaymentMethodUsage, str]] = ...) -> None: ...

class CreateSetupIntentResponse(_message.Message):
    __slots__ = ("setup_intent",)
    SETUP_INTENT_FIELD_NUMBER: _ClassVar[int]
    setup_intent: SetupIntent
    def __init__(self, setup_intent: _Optional[_Union[SetupIntent, _Mapping]] = ...) -> None: ...

class GetSetupIntentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetSetupIntentResponse(_message.Message):
    __slots__ = ("setup_intent",)
    SETUP_INTENT_FIELD_NUMBER: _ClassVar[int]
    setup_intent: SetupIntent
    def __init__(self, setup_intent: _Optional[_Union[SetupIntent, _Mapping]] = ...) -> None: ...
