"""Every Paddle payload the app reads or writes, as pydantic models.

One place for the shapes of Paddle Billing's webhooks (an event envelope around a
transaction or an adjustment entity) and of the API answers we use (`POST
/pricing-preview`, `POST /transactions`, `GET /transactions/{id}/invoice` and the
error body). Field names follow Paddle's API reference and the official SDK's
entities. The simulated checkout builds its events from these same models
(billing/paddle/events.py), so both sides agree on the format.

Contracts:
- Unknown extra fields are ignored (Paddle adds fields without notice); the fields we
  read are typed, and a payload whose fields have the wrong type is refused.
- Amounts are in the currency's lowest unit. On the wire (`parse_event`,
  `parse_answer`: `WIRE` context) Paddle sends them as strings of ASCII digits
  ("1050"), which are parsed to `int`; anything else (a JSON number, "10.50", "¹⁰",
  a NUL, more than 18 digits, a sign) is a validation error. Built in Python, an
  amount may also be given as an `int`. Dumped (`model_dump(mode="json")`), amounts
  are strings again and times are RFC 3339 in UTC with microseconds and a `Z`, as
  Paddle writes them.
- `PayloadError` carries a short reason that names the field ("'data.totals.total'
  is not an amount ...") and never echoes the input.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Generic, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
)

from core.errors import KloseError

WIRE: Final = {"wire": True}  # validation context: the payload came from Paddle as JSON

# --- field types -------------------------------------------------------------------------

_AMOUNT = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() passes '²'
AMOUNT_ERROR: Final = "is not an amount in the currency's lowest unit (a string of digits)"


def _parse_amount(value: object, info: ValidationInfo) -> int:
    """Paddle's amounts: a string of ASCII digits; from Python code an int also does."""
    if isinstance(value, str) and _AMOUNT.fullmatch(value):
        return int(value)
    from_wire = bool(info.context and info.context.get("wire"))
    if not from_wire and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(AMOUNT_ERROR)


def parse_time(value: object) -> datetime:
    """An RFC 3339 time as Paddle writes it; a time without an offset is taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("is not an RFC 3339 time") from None
    else:
        raise ValueError("is not an RFC 3339 time")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """Paddle's way of writing a time: UTC, microseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


Amount = Annotated[int, PlainValidator(_parse_amount), PlainSerializer(str, return_type=str)]
Time = Annotated[
    datetime, PlainValidator(parse_time), PlainSerializer(format_time, return_type=str)
]
PaddleId = Annotated[StrictStr, StringConstraints(min_length=1, max_length=100)]
CurrencyCode = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Z]{3}$")]
Text = Annotated[StrictStr, StringConstraints(max_length=10_000)]


class PaddleModel(BaseModel):
    """Base: extra fields ignored, instances immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- shared pieces -----------------------------------------------------------------------


class LineTotals(PaddleModel):
    """`totals` / `unit_totals` of a line item."""

    subtotal: Amount
    discount: Amount = 0
    tax: Amount
    total: Amount


class FormattedTotals(PaddleModel):
    """`formatted_totals`: the same totals for display ("$10.50")."""

    subtotal: Text | None = None
    discount: Text | None = None
    tax: Text | None = None
    total: Text | None = None


class PriceRef(PaddleModel):
    """The price entity, as far as we read it."""

    id: PaddleId
    name: Text | None = None  # the customer-facing label
    description: Text | None = None  # Paddle's internal note
    product_id: PaddleId | None = None


class ProductRef(PaddleModel):
    id: PaddleId | None = None
    name: Text | None = None


# --- transactions ------------------------------------------------------------------------


class TransactionItem(PaddleModel):
    """`items[]`: Paddle sends the `price` entity (older shapes: `price_id`)."""

    price_id: PaddleId | None = None
    price: PriceRef | None = None
    quantity: StrictInt = 1

    @property
    def the_price_id(self) -> str | None:
        return self.price.id if self.price is not None else self.price_id


class TransactionTotals(PaddleModel):
    """`details.totals`. `fee` and `earnings` are null until the payment is captured."""

    subtotal: Amount
    discount: Amount = 0
    tax: Amount
    total: Amount
    credit: Amount | None = None
    balance: Amount | None = None
    grand_total: Amount | None = None
    fee: Amount | None = None
    earnings: Amount | None = None
    currency_code: CurrencyCode | None = None


class TransactionLineItem(PaddleModel):
    """`details.line_items[]` of a transaction (written by the simulator; the receiver
    reads `items[]` and `details.totals`, so nothing here is required)."""

    id: PaddleId | None = None
    price_id: PaddleId | None = None
    quantity: StrictInt = 1
    tax_rate: Text | None = None
    totals: LineTotals | None = None


class TransactionDetails(PaddleModel):
    totals: TransactionTotals | None = None
    line_items: list[TransactionLineItem] = []


class Payment(PaddleModel):
    status: Text
    amount: Amount | None = None
    created_at: Time | None = None
    captured_at: Time | None = None


class Checkout(PaddleModel):
    url: Text | None = None


class TransactionData(PaddleModel):
    """A transaction entity: the `data` of `transaction.*` events and of the
    transactions API's answers."""

    id: PaddleId
    status: Annotated[StrictStr, StringConstraints(min_length=1, max_length=40)]
    customer_id: PaddleId | None = None
    address_id: PaddleId | None = None
    business_id: PaddleId | None = None
    custom_data: dict[str, Any] | None = None
    origin: Text | None = None
    collection_mode: Text | None = None
    currency_code: CurrencyCode | None = None
    created_at: Time | None = None
    updated_at: Time | None = None
    billed_at: Time | None = None
    items: list[TransactionItem] = []
    details: TransactionDetails | None = None
    payments: list[Payment] = []
    checkout: Checkout | None = None

    @property
    def price_ids(self) -> list[str]:
        return [pid for item in self.items if (pid := item.the_price_id) is not None]

    @property
    def totals(self) -> TransactionTotals | None:
        return self.details.totals if self.details is not None else None


# --- adjustments (refunds, credits, chargebacks) -----------------------------------------

# The actions and statuses Paddle documents today. The model accepts any short word in
# their place: one Paddle adds later is stored for review (billing/webhooks.py), not
# refused — a refusal would only make Paddle retry an event we can never take.
AdjustmentAction = Literal[
    "credit", "refund", "chargeback", "chargeback_warning", "chargeback_reverse", "credit_reverse"
]
AdjustmentStatus = Literal["pending_approval", "approved", "rejected"]
ADJUSTMENT_ACTIONS: Final = frozenset(get_args(AdjustmentAction))
ADJUSTMENT_STATUSES: Final = frozenset(get_args(AdjustmentStatus))
Word = Annotated[StrictStr, StringConstraints(min_length=1, max_length=40)]


class AdjustmentItem(PaddleModel):
    """`items[]`: `type` is `full` (the whole line), `partial`, `tax` or `proration`."""

    item_id: PaddleId | None = None
    type: Annotated[StrictStr, StringConstraints(min_length=1, max_length=40)]
    amount: Amount | None = None


class AdjustmentTotals(PaddleModel):
    subtotal: Amount | None = None
    tax: Amount | None = None
    total: Amount
    fee: Amount | None = None
    earnings: Amount | None = None
    currency_code: CurrencyCode | None = None


class AdjustmentData(PaddleModel):
    """An adjustment entity: the `data` of `adjustment.created` / `adjustment.updated`."""

    id: PaddleId
    action: Word
    status: Word
    transaction_id: PaddleId
    reason: Text | None = None
    currency_code: CurrencyCode | None = None
    items: list[AdjustmentItem] = []
    totals: AdjustmentTotals | None = None
    created_at: Time | None = None
    updated_at: Time | None = None

    @property
    def is_full(self) -> bool:
        """Whether it adjusts every item in full (then it concerns all the credits)."""
        return bool(self.items) and all(item.type == "full" for item in self.items)

    @property
    def total(self) -> int | None:
        return self.totals.total if self.totals is not None else None


# --- the webhook envelope ----------------------------------------------------------------

DataT = TypeVar("DataT")
EventType = Annotated[StrictStr, StringConstraints(min_length=1, max_length=100)]


class Event(PaddleModel, Generic[DataT]):
    """A webhook notification: the envelope every event type shares around `data`."""

    event_id: PaddleId
    event_type: EventType
    occurred_at: Time
    notification_id: PaddleId | None = None
    data: DataT


TransactionEvent = Event[TransactionData]
AdjustmentEvent = Event[AdjustmentData]
OtherEvent = Event[dict[str, Any]]
AnyEvent = TransactionEvent | AdjustmentEvent | OtherEvent

ADJUSTMENT_EVENTS: Final = frozenset({"adjustment.created", "adjustment.updated"})


def event_model(event_type: str) -> type[TransactionEvent | AdjustmentEvent | OtherEvent]:
    """The model for an event type's `data`: transactions and adjustments are typed,
    other event types are kept as they came."""
    if event_type.startswith("transaction."):
        return TransactionEvent
    if event_type in ADJUSTMENT_EVENTS:
        return AdjustmentEvent
    return OtherEvent


# --- API answers -------------------------------------------------------------------------


class PreviewLineItem(PaddleModel):
    """`details.line_items[]` of a pricing preview."""

    price: PriceRef
    quantity: StrictInt = 1
    tax_rate: Text | None = None
    unit_totals: LineTotals | None = None
    totals: LineTotals
    formatted_totals: FormattedTotals | None = None
    product: ProductRef | None = None

    @property
    def label(self) -> str:
        """The customer-facing name: the price's name, its description, the product's
        name, or else the price id."""
        product_name = self.product.name if self.product is not None else None
        for candidate in (self.price.name, self.price.description, product_name):
            if candidate:
                return candidate
        return self.price.id


class PreviewDetails(PaddleModel):
    line_items: list[PreviewLineItem]


class PricingPreviewData(PaddleModel):
    """`POST /pricing-preview`'s `data`: there is no grand total, only lines."""

    currency_code: CurrencyCode | None = None
    details: PreviewDetails


class InvoiceData(PaddleModel):
    """`GET /transactions/{id}/invoice`'s `data`: a link that expires after an hour."""

    url: Annotated[StrictStr, StringConstraints(min_length=1, max_length=4_000)]


class Answer(PaddleModel, Generic[DataT]):
    """A successful API answer: `{"data": …, "meta": {request_id, …}}`."""

    data: DataT


class FieldError(PaddleModel):
    field: Text | None = None
    message: Text | None = None


class ErrorDetail(PaddleModel):
    type: Text | None = None
    code: Text | None = None
    detail: Text | None = None
    documentation_url: Text | None = None
    errors: list[FieldError] = []


class ErrorMeta(PaddleModel):
    request_id: Text | None = None


class ErrorAnswer(PaddleModel):
    """A refusal: `{"error": {type, code, detail, documentation_url, errors?[{field,
    message}]}, "meta": {request_id}}`."""

    error: ErrorDetail
    meta: ErrorMeta | None = None


# --- parsing -----------------------------------------------------------------------------


class PayloadError(KloseError):
    """A Paddle payload that is not the shape we read; the message names the field."""


def describe(exc: ValidationError) -> str:
    """The first validation error as "'where' what's wrong" (the input is not echoed)."""
    error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "the body"
    what = str(error["msg"]).removeprefix("Value error, ")
    return f"'{where}' {what[:1].lower()}{what[1:]}"


def has_nul(payload: Any) -> bool:
    """Whether any key or string in a parsed JSON body holds a NUL character, which
    PostgreSQL's jsonb cannot store (walked without recursion: bodies can nest deep)."""
    stack = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def parse_event(payload: Any) -> AnyEvent:
    """A parsed webhook body (`json.loads`) as a typed event, or PayloadError.

    The envelope is read first, so a body that is no event at all says so; then the
    whole event with the model for its type."""
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    if has_nul(payload):
        raise PayloadError("it contains a NUL character")
    try:
        envelope = OtherEvent.model_validate(payload, context=WIRE)
        model = event_model(envelope.event_type)
        return envelope if model is OtherEvent else model.model_validate(payload, context=WIRE)
    except ValidationError as exc:
        raise PayloadError(describe(exc)) from None


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_answer(model: type[ModelT], payload: Any) -> ModelT:
    """A parsed API answer (`response.json()`) as `model`, or PayloadError."""
    if has_nul(payload):
        raise PayloadError("it contains a NUL character")
    try:
        return model.model_validate(payload, context=WIRE)
    except ValidationError as exc:
        raise PayloadError(describe(exc)) from None
