"""The public contract, fuzzed: generated requests (schemathesis, from the gateway's own OpenAPI
document) against the running system, as a logged-in customer. Every answer must be one the
document declares for that operation, with a body of the declared shape; none may be a 5xx."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from harness.shop import User, register
from harness.system import GATEWAY, System
from services.gateway.main import app

# Per operation; CONTRACT_EXAMPLES=500 for a long hunt (the suite keeps it to about a minute).
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "25"))

schema = schemathesis.openapi.from_dict(app.openapi())


@pytest.fixture
def customer(system: System) -> User:
    return register("Contract Tester")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.too_slow,
    ],
)
def test_every_answer_is_declared_with_its_shape(case: schemathesis.Case, customer: User) -> None:
    case.call_and_validate(base_url=GATEWAY, headers={"authorization": f"Bearer {customer.token}"})
