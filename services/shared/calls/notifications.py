"""notifications' answers to the gateway: a user's inbox, and a notification marked read."""

from pydantic import BaseModel, Field

from services.shared.calls.base import Page
from services.shared.contracts import Id, IsoTime


class Notification(BaseModel):
    """A notification as its recipient sees it (services/notifications/store.py `public`);
    `product_id` and `quantity` are left out of the ones that name no product."""

    id: Id
    type: str
    text: str
    order_id: Id
    created_at: IsoTime
    read: bool
    # A seller's notice names the product and quantity sold.
    product_id: Id | None = None
    quantity: int | None = None


class NotificationPage(Page):
    items: list[Notification]
    unread: int = Field(ge=0)


class Marked(BaseModel):
    id: Id
    read: bool
