import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DisputeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_STATE_UNSPECIFIED: _ClassVar[DisputeState]
    DISPUTE_STATE_WARNING_NEEDS_RESPONSE: _ClassVar[DisputeState]
    DISPUTE_STATE_WARNING_UNDER_REVIEW: _ClassVar[DisputeState]
    DISPUTE_STATE_WARNING_CLOSED: _ClassVar[DisputeState]
    DISPUTE_STATE_NEEDS_RESPONSE: _ClassVar[DisputeState]
    DISPUTE_STATE_UNDER_REVIEW: _ClassVar[DisputeState]
    DISPUTE_STATE_WON: _ClassVar[DisputeState]
    DISPUTE_STATE_LOST: _ClassVar[DisputeState]
DISPUTE_STATE_UNSPECIFIED: DisputeState
DISPUTE_STATE_WARNING_NEEDS_RESPONSE: DisputeState
DISPUTE_STATE_WARNING_UNDER_REVIEW: DisputeState
DISPUTE_STATE_WARNING_CLOSED: DisputeState
DISPUTE_STATE_NEEDS_RESPONSE: DisputeState
DISPUTE_STATE_UNDER_REVIEW: DisputeState
DISPUTE_STATE_WON: DisputeState
DISPUTE_STATE_LOST: DisputeState

class DisputeEvidence(_message.Message):
    __slots__ = ("access_activity_log", "billing_address", "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_email_address", "customer_name", "customer_purchase_ip", "duplicate_charge_explanation", "duplicate_charge_id", "product_description", "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "shipping_address", "shipping_carrier", "shipping_date", "shipping_tracking_number", "uncategorized_text")
    ACCESS_ACTIVITY_LOG_FIELD_NUMBER: _ClassVar[int]
    BILLING_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_POLICY_DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_REBUTTAL_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_EMAIL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_PURCHASE_IP_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_CHARGE_EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REFUND_POLICY_DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    REFUND_REFUSAL_EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_DATE_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_CARRIER_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_DATE_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_TRACKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    UNCATEGORIZED_TEXT_FIELD_NUMBER: _ClassVar[int]
    access_activity_log: str
    billing_address: str
    cancellation_policy_disclosure: str
    cancellation_rebuttal: str
    customer_email_address: str
    customer_name: str
    customer_purchase_ip: str
    duplicate_charge_explanation: str
    duplicate_charge_id: str
    product_description: str
    refund_policy_disclosure: str
    refund_refusal_explanation: str
    service_date: str
    shipping_address: str
    shipping_carrier: str
    shipping_date: str
    shipping_tracking_number: str
    uncategorized_text: str
    def __init__(self, access_activity_log: _Optional[str] = ..., billing_address: _Optional[str] = ..., cancellation_policy_disclosure: _Optional[str] = ..., cancellation_rebuttal: _Optional[str] = ..., customer_email_address: _Optional[str] = ..., customer_name: _Optional[str] = ..., customer_purchase_ip: _Optional[str] = ..., duplicate_charge_explanation: _Optional[str] = ..., duplicate_charge_id: _Optional[str] = ..., product_description: _Optional[str] = ..., refund_policy_disclosure: _Optional[str] = ..., refund_refusal_explanation: _Optional[str] = ..., service_date: _Optional[str] = ..., shipping_address: _Optional[str] = ..., shipping_carrier: _Optional[str] = ..., shipping_date: _Optional[str] = ..., shipping_tracking_number: _Optional[str] = ..., uncategorized_text: _Optional[str] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("id", "payment_id", "account_id", "amount", "currency_code", "reason", "state", "evidence_due_time", "evidence_submitted", "funds_withdrawn", "funds_reinstated", "evidence", "payment_refundable", "stripe_dispute_id", "stripe_charge_id", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    FUNDS_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    FUNDS_REINSTATED_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFUNDABLE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    payment_id: str
    account_id: str
    amount: int
    currency_code: str
    reason: str
    state: DisputeState
    evidence_due_time: _timestamp_pb2.Timestamp
    evidence_submitted: bool
    funds_withdrawn: bool
    funds_reinstated: bool
    evidence: DisputeEvidence
    payment_refundable: bool
    stripe_dispute_id: str
    stripe_charge_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., payment_id: _Optional[str] = ..., account_id: _Optional[str] = ..., amount: _Optional[int] = ..., currency_code: _Optional[str] = ..., reason: _Optional[str] = ..., state: _Optional[_Union[DisputeState, str]] = ..., evidence_due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., evidence_submitted: _Optional[bool] = ..., funds_withdrawn: _Optional[bool] = ..., funds_reinstated: _Optional[bool] = ..., evidence: _Optional[_Union[DisputeEvidence, _Mapping]] = ..., payment_refundable: _Optional[bool] = ..., stripe_dispute_id: _Optional[str] = ..., stripe_charge_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetDisputeRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class ListDisputesRequest(_message.Message):
    __slots__ = ("account_id", "payment_id", "states", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    payment_id: str
    states: _containers.RepeatedScalarFieldContainer[DisputeState]
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[DisputeState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDisputesResponse(_message.Message):
    __slots__ = ("disputes", "next_page_token")
    DISPUTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    disputes: _containers.RepeatedCompositeFieldContainer[Dispute]
    next_page_token: str
    def __init__(self, disputes: _Optional[_Iterable[_Union[Dispute, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateDisputeEvidenceRequest(_message.Message):
    __slots__ = ("request_id", "id", "evidence", "submit")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    evidence: DisputeEvidence
    submit: bool
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ..., evidence: _Optional[_Union[DisputeEvidence, _Mapping]] = ..., submit: _Optional[bool] = ...) -> None: ...

class UpdateDisputeEvidenceResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...

class CloseDisputeRequest(_message.Message):
    __slots__ = ("request_id", "id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class CloseDisputeResponse(_message.Message):
    __slots__ = ("dispute",)
    DISPUTE_FIELD_NUMBER: _ClassVar[int]
    dispute: Dispute
    def __init__(self, dispute: _Optional[_Union[Dispute, _Mapping]] = ...) -> None: ...
