"""The gateway's public REST API: authenticate, validate, hand the request to the service
(or straight to the app behind it), answer. The route docstrings are the OpenAPI document's.
One module on purpose, about 350 lines: the whole public API, every route with the
statuses it declares, read top to bottom."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response

from services.gateway import answers, service
from services.gateway.admission import InFlightLimit
from services.gateway.cache import ReadThroughCache
from services.gateway.clients import client_address, sign_in
from services.gateway.config import BACKEND_APPS, get_settings
from services.gateway.contract import HealthReport, created, errors, ok, operation_id
from services.gateway.forwarding import forward, respond
from services.gateway.models import (
    DeadLetterReplay,
    Login,
    NewOrder,
    NewProduct,
    ProductChanges,
    ProfileChanges,
    Registration,
)
from services.gateway.order_reads import read_orders
from services.gateway.security import AdminActor, CurrentActor
from services.shared.dapr import DaprSidecar
from services.shared.paging import Limit, Offset

router = APIRouter(prefix="/api", generate_unique_id_function=operation_id)


# What main.lifespan built, read off the app's state by plain functions rather than declared
# as dependencies: every route, the hottest ones too, skips that machinery.


def dapr(request: Request) -> DaprSidecar:
    return request.app.state.dapr


def products(request: Request) -> ReadThroughCache:
    return request.app.state.products


def placing_orders(request: Request) -> InFlightLimit:
    return request.app.state.placing_orders


# FastAPI tries routes in the order they are declared, and each miss costs a regex match
# and some bookkeeping: the hottest routes (product pages, orders) are declared first.


# --- products -----------------------------------------------------------------------------


@router.get(
    "/products",
    tags=["products"],
    responses={**ok(answers.ProductPage), **errors(422, c422="search_too_short")},
)
async def list_products(
    request: Request,
    limit: Limit = 20,
    offset: Offset = 0,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Search by name: products whose name has a word starting with each word "
            "of `q` (at least one of 3 letters or more; 422 `search_too_short` otherwise).",
        ),
    ] = None,
    seller_id: Annotated[UUID | None, Query(description="One seller's products.")] = None,
) -> Response:
    """Products for sale, newest first (public); `q` searches their names."""
    params: dict[str, str | int] = {"limit": limit, "offset": offset}
    if q is not None:
        params["q"] = q
    if seller_id is not None:
        params["seller_id"] = str(seller_id)
    return await forward(dapr(request), "products", "GET", "products", params=params)


@router.get(
    "/products/{product_id}", tags=["products"], responses={**ok(answers.Product), **errors(404, 422)}
)
async def get_product(product_id: UUID, request: Request) -> Response:
    """One product, from the gateway's cache: at most 1 s old (`product_cache_ttl_s`), and
    current at once after an edit, order or cancel made through this gateway. `X-Cache` says
    `hit` or `miss`; `Cache-Control: no-cache` asks the products service (`bypass`)."""
    pid = str(product_id)
    # Read off the request, not declared as a parameter: the hottest route skips that machinery.
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    answer, outcome = await service.product_page(dapr(request), products(request), pid, fresh=fresh)
    return Response(
        answer.body, status_code=answer.status, media_type="application/json", headers={"X-Cache": outcome}
    )


@router.post(
    "/products",
    status_code=201,
    tags=["products"],
    responses={
        **errors(400, 401, 422),
        **created(
            "product_id",
            "get_product",
            "change_product",
            "delete_product",
            model=answers.Product,
            place_order={"items": [{"product_id": "$response.body#/id", "quantity": 1}]},
        ),
    },
)
async def create_product(body: NewProduct, request: Request, actor: CurrentActor) -> Response:
    """Lists a product for sale; the caller is its seller."""
    return await forward(dapr(request), "products", "POST", "products", actor=actor, json=body.model_dump())


@router.patch(
    "/products/{product_id}",
    tags=["products"],
    responses={**ok(answers.Product), **errors(400, 401, 403, 404, 422)},
)
async def change_product(
    product_id: UUID, body: ProductChanges, request: Request, actor: CurrentActor
) -> Response:
    """The seller or an admin changes a product; 403 for anyone else."""
    pid = str(product_id)
    return await service.change_product(
        dapr(request), products(request), actor=actor, product_id=pid, changes=body
    )


@router.delete(
    "/products/{product_id}", status_code=204, tags=["products"], responses=errors(401, 403, 404, 422)
)
async def delete_product(product_id: UUID, request: Request, actor: CurrentActor) -> Response:
    pid = str(product_id)
    return await service.delete_product(dapr(request), products(request), actor=actor, product_id=pid)


# --- orders -------------------------------------------------------------------------------


@router.post(
    "/orders",
    status_code=201,
    tags=["orders"],
    responses={
        **errors(400, 401, 409, 422, c409=("insufficient_stock", "conflict"), c422="unknown_product"),
        **created("order_id", "get_order", "cancel_order", model=answers.Order),
    },
)
async def place_order(
    body: NewOrder,
    request: Request,
    actor: CurrentActor,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
) -> Response:
    """201 confirmed; 409 `insufficient_stock`; 422 `unknown_product`. Retrying with the same
    Idempotency-Key returns the first answer instead of placing a second order."""
    return await service.place_order(
        dapr(request),
        products(request),
        placing_orders(request),
        actor=actor,
        order=body,
        idempotency_key=idempotency_key,
    )


@router.get("/orders", tags=["orders"], responses={**ok(answers.OrderDocumentPage), **errors(401, 403, 422)})
async def list_orders(
    request: Request,
    actor: CurrentActor,
    limit: Limit = 20,
    offset: Offset = 0,
    customer_id: Annotated[UUID | None, Query(description="One customer's orders (admins only).")] = None,
) -> Response:
    """The caller's orders, newest first, joined with customer and product data (an admin sees
    everyone's, or one customer's). `X-Read-Model` says whether they came from the read model
    (`view`) or were aggregated live because it was unavailable (`live`)."""
    params: dict[str, str | int] = {"limit": limit, "offset": offset}
    if customer_id is not None:
        params["customer_id"] = str(customer_id)
    return await read_orders(dapr(request), actor, "orders", params)


@router.get(
    "/orders/{order_id}", tags=["orders"], responses={**ok(answers.OrderDocument), **errors(401, 404, 422)}
)
async def get_order(order_id: UUID, request: Request, actor: CurrentActor) -> Response:
    """One order document; an order not yet in the read model is aggregated live (never a 404)."""
    oid = str(order_id)
    return await read_orders(dapr(request), actor, f"orders/{oid}", None)


@router.post(
    "/orders/{order_id}/cancel",
    tags=["orders"],
    responses={**ok(answers.Order), **errors(401, 403, 404, 409, 422, c409="not_cancellable")},
)
async def cancel_order(order_id: UUID, request: Request, actor: CurrentActor) -> Response:
    """Cancels a confirmed order (its customer or an admin); 409 `not_cancellable`."""
    oid = str(order_id)
    return await service.cancel_order(dapr(request), products(request), actor=actor, order_id=oid)


# --- health -------------------------------------------------------------------------------


@router.get(
    "/health",
    tags=["health"],
    response_model=None,
    responses={
        200: {"model": HealthReport, "description": "Every service is up"},
        503: {"model": HealthReport, "description": "Some service is down (the report says which)"},
    },
)
async def system_health(request: Request) -> Response:
    """Health of every service behind the gateway: 200 when all are up, 503 otherwise."""
    settings = get_settings()
    report = await service.system_health(
        dapr(request), BACKEND_APPS, timeout_s=settings.health_probe_timeout_s
    )
    return respond(report, 200 if report.status == "ok" else 503)


# --- auth and profile ---------------------------------------------------------------------


@router.post(
    "/auth/register",
    status_code=201,
    tags=["auth"],
    responses={**ok(answers.Registered, 201), **errors(400, 409, 422, 429, c409="email_taken")},
)
async def register(body: Registration, request: Request) -> Response:
    """Creates a customer account. 409 `email_taken`; 429 after too many registrations from
    one address (docs/security.md)."""
    address = client_address(request, get_settings().trusted_proxies)
    return await sign_in(dapr(request), "register", body, address)


@router.post(
    "/auth/login",
    tags=["auth"],
    responses={**ok(answers.Token), **errors(400, 401, 422, 429, c401="invalid_credentials")},
)
async def login(body: Login, request: Request) -> Response:
    """A bearer token for the account. 401 `invalid_credentials`; 429 after too many failed
    logins for the account or from the address, until Retry-After (docs/security.md)."""
    address = client_address(request, get_settings().trusted_proxies)
    return await sign_in(dapr(request), "login", body, address)


@router.get("/me", tags=["auth"], responses={**ok(answers.Profile), **errors(401, 404)})
async def me(request: Request, actor: CurrentActor) -> Response:
    """The caller's customer profile."""
    return await service.profile(dapr(request), actor)


@router.patch("/me", tags=["auth"], responses={**ok(answers.Profile), **errors(400, 401, 404, 422)})
async def change_me(body: ProfileChanges, request: Request, actor: CurrentActor) -> Response:
    return await service.profile(dapr(request), actor, body)


# --- notifications ------------------------------------------------------------------------


@router.get(
    "/notifications", tags=["notifications"], responses={**ok(answers.NotificationPage), **errors(401, 422)}
)
async def list_notifications(
    request: Request, actor: CurrentActor, limit: Limit = 20, offset: Offset = 0
) -> Response:
    """The caller's notifications, newest first, with the `unread` count. Live ones arrive over
    the WebSocket at ws://<host>:8001/ws."""
    params = {"limit": limit, "offset": offset}
    return await forward(dapr(request), "notifications", "GET", "notifications", actor=actor, params=params)


@router.post(
    "/notifications/{notification_id}/read",
    tags=["notifications"],
    responses={**ok(answers.Marked), **errors(401, 404, 422)},
)
async def mark_notification_read(notification_id: UUID, request: Request, actor: CurrentActor) -> Response:
    """Marks one of the caller's notifications read; another user's is a 404."""
    nid = str(notification_id)
    return await forward(dapr(request), "notifications", "POST", f"notifications/{nid}/read", actor=actor)


# --- admin ---------------------------------------------------------------------------------


@router.get(
    "/admin/customers", tags=["admin"], responses={**ok(answers.CustomerPage), **errors(401, 403, 422)}
)
async def list_customers(
    request: Request, actor: AdminActor, limit: Limit = 20, offset: Offset = 0
) -> Response:
    """Every customer, oldest first (admins only)."""
    params = {"limit": limit, "offset": offset}
    return await forward(dapr(request), "customers", "GET", "customers", actor=actor, params=params)


@router.get(
    "/admin/dead-letters", tags=["admin"], responses={**ok(answers.DeadLetterPage), **errors(401, 403, 422)}
)
async def dead_letters(
    request: Request, actor: AdminActor, limit: Limit = 20, offset: Offset = 0
) -> Response:
    """Events no subscriber could apply, newest first, as kept by order-view."""
    params = {"limit": limit, "offset": offset}
    return await forward(dapr(request), "order-view", "GET", "dead-letters", actor=actor, params=params)


@router.post(
    "/admin/dead-letters/replay",
    tags=["admin"],
    responses={**ok(answers.ReplayReport), **errors(400, 401, 403, 422)},
)
async def replay_dead_letters(
    request: Request, actor: AdminActor, body: DeadLetterReplay | None = None
) -> Response:
    """Redelivers dead letters (these ids, or the oldest 100) to the subscriber that failed on
    them. Each one applied is forgotten; each one failing again is kept, with the outcome. A call
    works for about a second at most: `remaining` says whether to call again."""
    json = body.model_dump(exclude_none=True) if body is not None else {}
    return await forward(dapr(request), "order-view", "POST", "dead-letters/replay", actor=actor, json=json)


@router.post(
    "/admin/read-model/rebuild",
    status_code=202,
    tags=["admin"],
    responses={**ok(answers.RebuildRequested, 202), **errors(401, 403, 409)},
)
async def rebuild_read_model(request: Request, actor: AdminActor) -> Response:
    """Rebuilds the order read model from the source services, in the background."""
    return await forward(dapr(request), "order-view", "POST", "rebuild", actor=actor)


@router.get(
    "/admin/read-model/status", tags=["admin"], responses={**ok(answers.RebuildStatus), **errors(401, 403)}
)
async def read_model_status(request: Request, actor: AdminActor) -> Response:
    """Rebuild progress: documents built, total, last event applied, lag."""
    return await forward(dapr(request), "order-view", "GET", "rebuild", actor=actor)
