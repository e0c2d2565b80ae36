"""The products service's internal API (reached only through Dapr service invocation)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Engine

from services.products import reserving, service
from services.products.models import NewProduct, ProductChanges
from services.shared.calls import (
    Lookup,
    Product,
    ProductPage,
    ProductsFound,
    Reservation,
    ReservationOutcome,
)
from services.shared.identity import Actor, require_actor
from services.shared.paging import Limit, Offset

router = APIRouter()


async def engine(request: Request) -> Engine:
    return request.app.state.engine


DB = Annotated[Engine, Depends(engine)]
Caller = Annotated[Actor, Depends(require_actor)]


@router.get("/products", tags=["products"])
def list_products(
    db: DB,
    limit: Limit = 20,
    offset: Offset = 0,
    include_deleted: bool = False,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    seller_id: Annotated[str | None, Query(max_length=36)] = None,
) -> ProductPage:
    return ProductPage.model_validate(
        service.page(
            db, limit=limit, offset=offset, include_deleted=include_deleted, q=q, seller_id=seller_id
        )
    )


@router.post("/products", status_code=201, tags=["products"])
def create_product(body: NewProduct, db: DB, actor: Caller) -> Product:
    return Product.model_validate(service.create(db, seller=actor, new=body))


@router.post("/products/batch", tags=["products"])
def batch(body: Lookup, db: DB) -> ProductsFound:
    """Many products in one call (an order's lines, a read model's rebuild)."""
    return ProductsFound.model_validate({"items": service.batch(db, ids=body.ids)})


@router.get("/products/{product_id}", tags=["products"])
def get_product(product_id: str, db: DB) -> Product:
    return Product.model_validate(service.get(db, product_id=product_id))


@router.patch("/products/{product_id}", tags=["products"])
def change_product(product_id: str, body: ProductChanges, db: DB, actor: Caller) -> Product:
    return Product.model_validate(service.change(db, actor=actor, product_id=product_id, changes=body))


@router.delete("/products/{product_id}", status_code=204, tags=["products"])
def delete_product(product_id: str, db: DB, actor: Caller) -> Response:
    service.delete(db, actor=actor, product_id=product_id)
    return Response(status_code=204)


@router.post("/reservations", tags=["reservations"])
def reserve(body: Reservation, db: DB) -> ReservationOutcome:
    """Reserves stock for an order, all lines or none. `status` says which: `reserved`, or
    `rejected` when a line is short (with the prices, so the order can record what was asked)."""
    return reserving.reserve(db, reservation=body)


@router.post("/reservations/{order_id}/release", tags=["reservations"])
def release(order_id: str, db: DB) -> ReservationOutcome:
    """Gives a cancelled order's stock back (idempotent)."""
    return reserving.release(db, order_id=order_id)
