"""order-view's answers: the order documents (the gateway forwards them, and builds the same
ones itself when order-view is down: services/shared/order_document.py), and its operators'
API the gateway's admin routes forward: dead letters and their replay, the rebuild and its
progress; and, for operators and tests, what it has applied."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, JsonValue, PlainSerializer

from services.shared.calls.base import Answer, Page
from services.shared.contracts import Id, IsoTime, Version
from services.shared.timeutil import iso

# A time order-view keeps in MongoDB (UTC; naive, as pymongo reads it back), shown as IsoTime.
Moment = Annotated[datetime, PlainSerializer(iso, return_type=str)]

# --- order documents ----------------------------------------------------------------------------


class Named(BaseModel):
    id: Id
    name: str | None = Field(description="Null while its service has not told it yet.")


class DocumentCustomer(Named):
    email: str | None


class DocumentProduct(Named):
    seller_id: Id | None


class DocumentLine(BaseModel):
    product: DocumentProduct
    quantity: int = Field(ge=1)
    unit_price_cents: int | None
    line_total_cents: int | None


class OrderDocument(BaseModel):
    """An order joined with its customer and products (services/shared/order_document.py)."""

    id: Id
    status: str
    customer: DocumentCustomer
    items: list[DocumentLine]
    total_cents: int
    created_at: IsoTime
    updated_at: IsoTime
    version: Version


class OrderDocumentPage(Page):
    items: list[OrderDocument]


# --- dead letters ---------------------------------------------------------------------------------


class ReplayNote(BaseModel):
    at: Moment
    outcome: str = Field(description="What the subscriber answered: `RETRY`, `DROP`, `HTTP 500`...")


class DeadLetter(BaseModel):
    """An event a subscriber could not apply, as it arrived: its data did not fit, so it is
    any JSON (services/order_view/store/inbox.py `_summary`)."""

    id: str = Field(description="`<subscriber>:<event id>`: what a replay names.")
    subscriber: str
    event_id: JsonValue
    type: JsonValue
    source: JsonValue
    time: JsonValue
    data: JsonValue
    received_at: Moment
    replays: int = Field(ge=0)
    last_replay: ReplayNote | None


class DeadLetterPage(Page):
    items: list[DeadLetter]


class FailedReplay(BaseModel):
    id: str
    outcome: str


class ReplayReport(BaseModel):
    replayed: list[str] = Field(description="Applied, and forgotten.")
    failed: list[FailedReplay] = Field(description="Failed again, and kept with the outcome.")
    not_found: list[str] = Field(description="Ids asked for that are no dead letter.")
    remaining: int = Field(ge=0, description="Dead letters left.")


# --- the rebuild ----------------------------------------------------------------------------------


class RebuildProgress(BaseModel):
    """The rebuild's state, whichever replica runs it (services/order_view/rebuild.py)."""

    state: Literal["idle", "running", "done", "failed"]
    built: int = Field(ge=0, description="Orders gone through in this pass.")
    total: int | None = Field(description="Orders there are; null until the first page is read.")
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None


class RebuildRequested(RebuildProgress):
    restarted: bool = Field(description="Whether a pass was running (it starts over).")


class RebuildStatus(RebuildProgress):
    documents: int = Field(ge=0, description="Order documents in the read model.")
    last_event_at: Moment | None = Field(description="When this replica last applied an event.")
    lag_ms: float | None = Field(description="From that event's publication to its application.")


# --- what it applied, for operators and tests -------------------------------------------------------


class AppliedEvent(BaseModel):
    id: str
    topic: str
    type: str
    entity_id: str | None
    received_at: Moment


class AppliedEvents(BaseModel):
    items: list[AppliedEvent]


class KnownSnapshot(Answer):
    """The newest customer or product snapshot applied: its version, and the fields order
    documents show (services/order_view/store/snapshots.py KEPT)."""

    version: Version
