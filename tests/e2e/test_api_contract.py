"""The public contract, fuzzed: requests generated from the gateway's own OpenAPI document
(schemathesis) against the running system, as a customer and as an admin, valid ones and
invalid ones, one at a time and in chains that follow the document's links (create a product,
read, change, delete it; place an order, read, cancel it). Every answer must be one the document
declares for that operation, with a body of the declared shape; no 5xx; invalid input refused;
an operation that needs a token refuses a request without one; a deleted product stays gone."""

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)
from schemathesis.generation import GenerationMode

from harness.shop import User, admin, register
from harness.system import GATEWAY, System
from services.gateway.main import app

# Examples per operation and steps of chains; CONTRACT_EXAMPLES=500 for a long hunt (the suite
# keeps the whole file to about two minutes).
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    use_after_free,
]
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases each run: a failure here is reproducible, not luck
    suppress_health_check=list(HealthCheck),
)

schema = schemathesis.openapi.from_dict(app.openapi())
schema.config.update(base_url=GATEWAY)
schema.config.generation.update(modes=list(GenerationMode), max_examples=EXAMPLES)
# The health report answers 503 while a test elsewhere has an app stopped; ops endpoints are
# not part of the API a client is generated for.
api = schema.exclude(path_regex="^/(healthz|readyz)$")


# The bearer token of the caller a test runs as, given to schemathesis as its auth: so its
# ignored_auth check knows what to take away (and what to spoil) to see it refused.
_token = {"value": ""}


@api.auth(refresh_interval=None)
class Bearer:
    def get(self, case: schemathesis.Case, context: Any) -> str:
        return _token["value"]

    def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(params=["customer", "admin"])
def caller(request: pytest.FixtureRequest, system: System) -> User:
    user = register("Contract Tester") if request.param == "customer" else admin()
    _token["value"] = user.token
    return user


@api.parametrize()
@SETTINGS
def test_every_answer_is_declared_with_its_shape(case: schemathesis.Case, caller: User) -> None:
    case.call_and_validate(checks=CHECKS)


def test_chains_of_calls_keep_the_contract(system: System) -> None:
    _token["value"] = register("Contract Chains").token

    class Chains(api.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Chains.run(settings=settings(SETTINGS, stateful_step_count=6))
