"""What the public API answers on success, as the OpenAPI document declares it: a generated
client gets these types, and tests/e2e/test_api_contract.py checks every answer against them.

Most are the very models the apps behind the gateway answer with (services/shared/calls/): the
gateway forwards those answers unchanged, so the document declares what the app that built the
body declares, and tests/unit/test_internal_answers.py checks each forwarded operation against
its app's route. A client must accept fields it does not know (an app may add one)."""

from services.shared.calls import (
    Customer,
    CustomerPage,
    DeadLetterPage,
    Marked,
    Notification,
    NotificationPage,
    Order,
    OrderDocument,
    OrderDocumentPage,
    Product,
    ProductPage,
    RebuildRequested,
    RebuildStatus,
    Registered,
    ReplayReport,
    Token,
)
from services.shared.identity import Role


class Profile(Customer):
    """The caller's customer record, with the role their token carries (the gateway adds it)."""

    role: Role


__all__ = [
    "CustomerPage",
    "DeadLetterPage",
    "Marked",
    "Notification",
    "NotificationPage",
    "Order",
    "OrderDocument",
    "OrderDocumentPage",
    "Product",
    "ProductPage",
    "Profile",
    "RebuildRequested",
    "RebuildStatus",
    "Registered",
    "ReplayReport",
    "Token",
]
