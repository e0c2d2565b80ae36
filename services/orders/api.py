"""The orders service's internal API (the gateway calls it through Dapr)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from services.orders import placing, service
from services.orders.models import NewOrder
from services.shared.calls import Order, OrderPage
from services.shared.identity import Actor, customer_scope, require_actor
from services.shared.paging import Limit, Offset

router = APIRouter(prefix="/orders", tags=["orders"])
Caller = Annotated[Actor, Depends(require_actor)]


@router.post("", status_code=201, response_model=Order)
async def place_order(
    body: NewOrder,
    request: Request,
    actor: Caller,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
) -> JSONResponse:
    """201 confirmed; 409 `insufficient_stock` (the order is recorded as rejected). The body
    is handed over as built: the order in it was checked as its event's model moments before
    (services/orders/events.py), or is the first answer to its Idempotency-Key."""
    status, payload = await placing.place(
        request.app.state.engine,
        request.app.state.dapr,
        actor=actor,
        new=body,
        idempotency_key=idempotency_key,
    )
    return JSONResponse(payload, status_code=status)


@router.get("")
def list_orders(
    request: Request,
    actor: Caller,
    limit: Limit = 20,
    offset: Offset = 0,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> OrderPage:
    """The caller's orders, newest first; an admin sees everyone's, or one customer's."""
    scope = customer_scope(actor, customer_id)
    return OrderPage.model_validate(
        service.page(request.app.state.engine, customer_id=scope, limit=limit, offset=offset)
    )


@router.get("/{order_id}")
def get_order(order_id: str, request: Request, actor: Caller) -> Order:
    return Order.model_validate(service.visible(request.app.state.engine, actor=actor, order_id=order_id))


@router.post("/{order_id}/cancel")
async def cancel_order(order_id: str, request: Request, actor: Caller) -> Order:
    """Cancels a confirmed order and releases its stock; 409 `not_cancellable` otherwise."""
    cancelled = await placing.cancel(
        request.app.state.engine, request.app.state.dapr, actor=actor, order_id=order_id
    )
    return Order.model_validate(cancelled)
