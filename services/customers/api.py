"""The customers service's internal API (reached only through Dapr service invocation)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Engine

from services.customers import service
from services.customers.models import CustomerChanges
from services.shared.calls import (
    Customer,
    CustomerCreated,
    CustomerPage,
    CustomersFound,
    Lookup,
    NewCustomer,
)

router = APIRouter(prefix="/customers", tags=["customers"])


async def engine(request: Request) -> Engine:
    return request.app.state.engine


DB = Annotated[Engine, Depends(engine)]


@router.post("", status_code=201)
def register(body: NewCustomer, db: DB) -> CustomerCreated:
    """Creates a customer profile (called by auth during registration)."""
    return CustomerCreated.model_validate(service.register(db, new=body))


@router.get("")
def list_customers(
    db: DB, limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0
) -> CustomerPage:
    """Pages through every customer, oldest first."""
    return CustomerPage.model_validate(service.page(db, limit=limit, offset=offset))


@router.post("/batch")
def batch(body: Lookup, db: DB) -> CustomersFound:
    """Looks up many customers in one call."""
    return CustomersFound.model_validate({"items": service.batch(db, ids=body.ids)})


@router.get("/{customer_id}")
def get_customer(customer_id: str, db: DB) -> Customer:
    return Customer.model_validate(service.get(db, customer_id=customer_id))


@router.patch("/{customer_id}")
def change_customer(customer_id: str, body: CustomerChanges, db: DB) -> Customer:
    return Customer.model_validate(service.change(db, customer_id=customer_id, changes=body))
