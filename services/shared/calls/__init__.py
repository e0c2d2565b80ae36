"""What services exchange through Dapr service invocation: every request body and every answer,
one model each, declared once here (one module per callee) and imported by both sides from
this package.

The callee declares the model as its route's body or answer (its `response_model`: FastAPI
checks each answer against it and the app's OpenAPI shows it); the caller builds its request
from the model and sends `model_dump(mode="json")`, and reads the fields of an answer through
the model. A field one side renames or retypes then fails a contract test
(tests/unit/test_internal_calls.py, tests/unit/test_internal_answers.py), not a call at run time.
Requests are `Strict`: a field the callee does not know is refused. The gateway forwards most
answers to its clients unchanged, as bytes, and its OpenAPI declares the very same models
(services/gateway/answers.py).

Answers are read with `services.shared.dapr.answer_of`, which turns an answer that does not
fit into ServiceUnavailable: a peer that answers nonsense is broken, and its caller answers
503 as for a peer that is down, never a 500. Where several callers read a few fields of an
answer (the batch lookups), the answer they read declares those fields and carries the
entity's other fields unchanged (`Answer`, `extra="allow"`).

- gateway -> auth `POST register`, `POST login`: Registered, Token (calls/auth.py).
- auth -> customers `POST customers`: NewCustomer, answered (201) by CustomerCreated;
  gateway -> customers `GET|PATCH customers/{id}`: Customer; `GET customers`: CustomerPage.
- gateway -> products `GET|PATCH products/{id}`, `POST products`: Product; `GET products`:
  ProductPage. orders -> products `POST reservations`: Reservation, answered by
  ReservationOutcome; `POST reservations/{order_id}/release`: no body, ReservationOutcome.
- gateway, notifications, order-view -> `POST products/batch`, `POST customers/batch`: Lookup,
  answered by ProductsFound and CustomersFound.
- gateway, order-view -> orders `POST orders`, `GET orders/{id}`, `POST orders/{id}/cancel`:
  Order; `GET orders`: OrderPage.
- gateway -> notifications `GET notifications`: NotificationPage; `POST .../read`: Marked.
- gateway -> order-view: OrderDocument(Page), DeadLetterPage, ReplayReport, RebuildRequested,
  RebuildStatus (calls/order_view.py).
"""

from services.shared.calls.auth import CLIENT_ADDRESS_HEADER, Registered, Token
from services.shared.calls.base import MAX_LOOKUP, Answer, Lookup, Page
from services.shared.calls.customers import (
    Customer,
    CustomerCreated,
    CustomerPage,
    CustomersFound,
    CustomerSnapshot,
    NewCustomer,
)
from services.shared.calls.notifications import Marked, Notification, NotificationPage
from services.shared.calls.order_view import (
    AppliedEvent,
    AppliedEvents,
    DeadLetter,
    DeadLetterPage,
    FailedReplay,
    KnownSnapshot,
    OrderDocument,
    OrderDocumentPage,
    RebuildProgress,
    RebuildRequested,
    RebuildStatus,
    ReplayReport,
)
from services.shared.calls.orders import Order, OrderPage, SoldLine
from services.shared.calls.products import (
    Product,
    ProductPage,
    ProductsFound,
    ProductSnapshot,
    Reservation,
    ReservationLine,
    ReservationOutcome,
    ReservedLine,
)

__all__ = [
    "CLIENT_ADDRESS_HEADER",
    "MAX_LOOKUP",
    "Answer",
    "AppliedEvent",
    "AppliedEvents",
    "Customer",
    "CustomerCreated",
    "CustomerPage",
    "CustomerSnapshot",
    "CustomersFound",
    "DeadLetter",
    "DeadLetterPage",
    "FailedReplay",
    "KnownSnapshot",
    "Lookup",
    "Marked",
    "NewCustomer",
    "Notification",
    "NotificationPage",
    "Order",
    "OrderDocument",
    "OrderDocumentPage",
    "OrderPage",
    "Page",
    "Product",
    "ProductPage",
    "ProductSnapshot",
    "ProductsFound",
    "RebuildProgress",
    "RebuildRequested",
    "RebuildStatus",
    "Registered",
    "ReplayReport",
    "Reservation",
    "ReservationLine",
    "ReservationOutcome",
    "ReservedLine",
    "SoldLine",
    "Token",
]
