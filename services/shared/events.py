"""Receiving CloudEvents from Dapr pub/sub: the part every subscriber shares."""

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel

# What a subscriber answers Dapr for one delivery: done, deliver again later, or never
# (Dapr then dead-letters it).
Outcome = Literal["SUCCESS", "RETRY", "DROP"]


class Delivered(BaseModel):
    """A subscriber's answer to a delivery (Dapr's programmatic subscription contract), and to
    a dead letter's replay (services/order_view/replay.py)."""

    status: Outcome


async def read_envelope(request: Request) -> dict[str, Any] | None:
    """The delivered CloudEvent as a dict, or None when the body is not a JSON object (such a
    delivery can never be processed: answer DROP and Dapr dead-letters it)."""
    try:
        envelope = await request.json()
    except ValueError:
        return None
    return envelope if isinstance(envelope, dict) else None
