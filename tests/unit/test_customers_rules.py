"""Customer rules on the customers service's own tables (SQLite, no server)."""

import uuid

import pytest

from services.customers import service
from services.customers.models import CustomerChanges, metadata, outbox
from services.shared.calls import NewCustomer
from services.shared.errors import ApiError
from tests.unit.conftest import outbox_events


@pytest.fixture
def db(make_db):  # type: ignore[no-untyped-def]
    return make_db(metadata)


def new(email: str = "ann@example.com", customer_id: str | None = None) -> NewCustomer:
    return NewCustomer(id=customer_id or str(uuid.uuid4()), email=email, name="Ann")


def test_an_email_belongs_to_one_customer(db) -> None:  # type: ignore[no-untyped-def]
    service.register(db, new=new("Ann@Example.com"))

    with pytest.raises(ApiError) as taken:
        service.register(db, new=new("ann@example.com"))
    assert taken.value.code == "email_taken"


def test_a_retried_registration_returns_the_same_customer(db) -> None:  # type: ignore[no-untyped-def]
    first = service.register(db, new=new(customer_id="00000000-0000-4000-8000-000000000001"))
    again = service.register(db, new=new(customer_id="00000000-0000-4000-8000-000000000001"))

    assert again == first
    assert len(outbox_events(db, outbox)) == 1


def test_a_rename_bumps_the_version_and_queues_the_snapshot(db) -> None:  # type: ignore[no-untyped-def]
    customer = service.register(db, new=new())

    renamed = service.change(db, customer_id=customer["id"], changes=CustomerChanges(name="Anna"))

    assert (renamed["name"], renamed["version"]) == ("Anna", 2)
    assert outbox_events(db, outbox)[-1] == ("customer.updated", renamed)
