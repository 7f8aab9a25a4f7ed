"""The state record of one order: where it is in its life, and what Bsale and Jumpseller already hold for it.

One record per (shop, Jumpseller order id), never per SQS message: a replay or a duplicate delivery finds the
same record. It moves only by conditional writes (store/orders.py), so two workers can never both take a step.

States (the paid track, then the cancellation track):

    received ──► creating ──► created ──► crediting ──► credited
        │           │  │         └──► rejected             (the SII rejected a document: bridge/orders/sii.py)
        │           │  └────► failed / needs_manual        (cancel after the document: return / nota de crédito)
        │           └───────► (retryable error: stays creating, unclaimed; the next attempt re-POSTs the same
        │                      body, and Bsale's salesId answers 200 with the document if it was made)
        ├──► skipped           (all-zero order, or canceled by the time it was paid)
        ├──► consuming ──► consumed ──► restocking ──► restocked   (documents off: stock consumption, reception)
        └──► canceled          (canceled before anything reached Bsale: nothing to undo)

`creating`, `consuming`, `crediting` and `restocking` are in flight: the step's exact request is saved in
`intent` before it is sent, and the attempt that sent it holds `claim_id`. Another attempt may take the step
over only when it carries the same claim id (SQS redelivering the message of a worker that died), when no one
holds it (the holder gave up on a retryable error), or when the claim is older than the lease (the CLI retry).
Taking over repeats the step in a way that cannot double it (see bridge/orders/flow.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_SALES_ID = 255
LEASE_SECONDS = 120  # > the worker's 60 s timeout: a claim this old belongs to an attempt that is gone


class OrderState(StrEnum):
    RECEIVED = "received"  # paid, nothing done yet (manual mode waits here for a person)
    CREATING = "creating"
    CREATED = "created"
    FAILED = "failed"  # Bsale or the rules refused: waits for a person, then "Reintentar"
    SKIPPED = "skipped"
    NEEDS_MANUAL = "needs_manual"  # a document must be made by hand (serial numbers...)
    CONSUMING = "consuming"
    CONSUMED = "consumed"
    CANCELED = "canceled"
    CREDITING = "crediting"
    CREDITED = "credited"
    RESTOCKING = "restocking"
    RESTOCKED = "restocked"
    RESOLVED = "resolved"  # a person settled a failed order by hand (resolve-order)
    REJECTED = "rejected"  # the SII rejected its document: waits for a person (fix-rejected, resolve-order)


IN_FLIGHT = frozenset({OrderState.CREATING, OrderState.CONSUMING, OrderState.CREDITING, OrderState.RESTOCKING})
WAITING_FOR_A_PERSON = frozenset({OrderState.FAILED, OrderState.NEEDS_MANUAL})


class Step(StrEnum):
    """What a failed order was trying to do: the retry resumes there."""

    DOCUMENT = "document"
    CONSUMPTION = "consumption"
    CONSUMPTION_CHECK = "consumption_check"  # could not tell whether a consumption was already made
    CREDIT = "credit"
    RESTOCK = "restock"
    SII = "sii"  # the SII rejected a document the bridge made (bridge/orders/sii.py)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class OrderError(_Model):
    """What went wrong, for the shop owner: a Spanish reason, and Bsale's own words when Bsale said something."""

    code: str
    reason: str  # Spanish: what to do about it
    upstream: str | None = None  # verbatim (Bsale's `error`), never translated
    status_code: int | None = None
    retryable: bool = False
    step: Step | None = None
    at: int = 0


class IssuedLine(_Model):
    """A line of a document Bsale made, as it answered (documents.amounts.DocumentLine is a line we compute)."""

    id: int  # Bsale documentDetailId, what a return references
    quantity: float
    variant_id: int | None = None


SII_LABELS = {"accepted": "accepted by the SII", "rejected": "rejected by the SII"}


class IssuedDocument(_Model):
    """A Bsale document made for the order: the sale (boleta / factura) or a credit note."""

    id: int
    kind: str  # boleta | factura | nota de crédito
    code_sii: str  # 39 | 33 | 61
    number: int | None = None  # the folio
    url_pdf: str | None = None
    sales_id: str | None = None
    total: float | None = None
    replayed: bool = False  # Bsale answered 200: the document already existed (salesId)
    lines: list[IssuedLine] | None = None  # None: not read yet
    client: dict[str, Any] | None = None  # the client node it was issued to (a return must repeat it)
    credited_by: int | None = None  # id of the credit note that voids it
    provider: str = "bsale"  # bsale | facto (Facto documents: id = folio)
    request: dict[str, Any] | None = None  # Facto: the emitir_dte sent (its credit note repeats its lines)
    links: dict[str, str] = Field(default_factory=dict)  # Facto's download links (valid 30 days)
    files: dict[str, str] = Field(default_factory=dict)  # kind (pdf, xml) → key of the copy kept in the stack
    # The SII's verdict (F19, bridge/orders/sii.py): sent | accepted | rejected. A provider that reports no later
    # verdict leaves "sent" for good; None: made before the bridge watched verdicts.
    sii_status: str | None = None
    sii_message: str | None = None  # the SII's words (Bsale's responseMsgSii), verbatim
    sii_overdue_at: int | None = None  # flagged: still not final after the shop's limit

    @property
    def sii_label(self) -> str:
        """What the operator and the shop read: "accepted" only on a known verdict. A document of a provider whose
        answer carries no later verdict (Facto) stays "sent to the SII"."""
        return SII_LABELS.get(self.sii_status or "sent", "sent to the SII")


class StockMove(_Model):
    """A Bsale stock consumption (documents off) or reception (its undoing)."""

    id: int | None = None
    reference: str  # the unique note / documentNumber that identifies it in Bsale
    lines: list[tuple[int, float]] = Field(default_factory=list)  # (variant id, quantity)


class OrderRecord(_Model):
    shop_id: str
    order_id: int
    state: OrderState
    order: dict[str, Any] = Field(default_factory=dict)  # the order as last received (parsed again when needed)
    generation: int = 1  # 2 after a boleta was credited to become a factura...
    intent: dict[str, Any] | None = None  # the request of the step in flight, saved before it is sent
    claim_id: str | None = None
    claimed_at: int | None = None
    document: IssuedDocument | None = None
    credit_note: IssuedDocument | None = None
    previous_documents: list[IssuedDocument] = Field(default_factory=list)
    draft: IssuedDocument | None = None  # Facto status 2: a draft exists in Facto, never sent to the SII
    consumption: StockMove | None = None
    reception: StockMove | None = None
    error: OrderError | None = None  # why it waits for a person
    last_error: OrderError | None = None  # the latest retryable problem (cleared when a step completes)
    warnings: list[str] = Field(default_factory=list)
    skip_reason: str | None = None
    resolution: str | None = None  # what the person who settled it by hand said
    done: list[str] = Field(default_factory=list)  # follow-ups already made in Jumpseller ("attach:123"...)
    history: list[dict[str, Any]] = Field(default_factory=list)
    created_at: int = 0
    updated_at: int = 0

    @property
    def sales_id(self) -> str:
        """Bsale's idempotency key for this order's sale document of this generation."""
        base = sales_id(self.shop_id, self.order_id)
        return base if self.generation == 1 else f"{base}-{self.generation}"

    @property
    def problem(self) -> OrderError | None:
        return self.error or self.last_error

    @property
    def documents(self) -> list[IssuedDocument]:
        """Every tax document made for the order (its sale documents and credit notes, replaced ones included)."""
        return [d for d in (self.document, self.credit_note, *self.previous_documents) if d is not None]


def sales_id(store_code: str, order_id: int) -> str:
    """Bsale's idempotency key for an order: the same order always gets the same one (bsale.md §10.1)."""
    value = f"js-{store_code}-{order_id}"
    if len(value) > MAX_SALES_ID:
        raise ValueError(f"salesId longer than {MAX_SALES_ID} characters")
    return value
