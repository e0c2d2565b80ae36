"""The event catalogue, docs/asyncapi.yaml: it is what scripts/asyncapi.py writes from the event
models and components/ now (a changed model must be regenerated: `make asyncapi`), the official
AsyncAPI parser (npm, installed by `make setup`: scripts/asyncapi-tools.sh) finds it valid and
refuses a broken copy, every example fits its message, and it names every event type, publisher
and subscription the system really has."""

import importlib.util
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from services.shared.integration_events import EVENTS

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs/asyncapi.yaml"

spec = importlib.util.spec_from_file_location("asyncapi", ROOT / "scripts/asyncapi.py")
assert spec is not None and spec.loader is not None
asyncapi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(asyncapi)


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(CATALOGUE.read_text())


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    """The official parser's verdict on a file; a missing parser fails, saying how to install it."""
    result = subprocess.run(
        ["scripts/asyncapi-tools.sh", "validate", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 3, result.stderr  # "run 'make setup'"
    return result


def test_the_committed_catalogue_is_what_the_event_models_and_components_say_now() -> None:
    assert CATALOGUE.read_text() == asyncapi.render(), (
        "docs/asyncapi.yaml is stale: run 'make asyncapi' and commit it"
    )


def test_the_official_asyncapi_parser_finds_the_catalogue_valid() -> None:
    result = validate(CATALOGUE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_parser_refuses_a_catalogue_whose_operation_names_a_message_of_another_channel(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "asyncapi.yaml"
    text = CATALOGUE.read_text()
    assert "#/channels/orders/messages/OrderRejected" in text
    broken.write_text(
        text.replace("#/channels/orders/messages/OrderRejected", "#/channels/products/messages/OrderRejected")
    )

    result = validate(broken)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "does not exist" in result.stdout


def payload_validator(message: dict[str, Any]) -> jsonschema_rs.Validator:
    # The payload's references point into the document's components/schemas.
    return jsonschema_rs.validator_for({**message["payload"], "components": document()["components"]})


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.TYPE)
def test_every_event_type_has_a_message_whose_example_fits_it(event: type) -> None:
    message = document()["components"]["messages"][event.__name__]
    example = message["examples"][0]["payload"]

    assert message["name"] == event.TYPE  # type: ignore[attr-defined]
    payload_validator(message).validate(example)
    event.model_validate(example["data"])  # type: ignore[attr-defined]


def test_a_message_refuses_data_its_model_refuses() -> None:
    message = document()["components"]["messages"]["OrderConfirmed"]
    example = message["examples"][0]["payload"]
    validator = payload_validator(message)

    assert not validator.is_valid({**example, "data": {**example["data"], "status": "rejected"}})
    assert not validator.is_valid({**example, "data": {**example["data"], "surprise": 1}})
    assert not validator.is_valid({**example, "type": "order.rejected"})


def test_each_topic_is_sent_by_its_owner_and_received_by_each_of_its_subscriptions() -> None:
    operations = document()["operations"]
    sends = {
        op["channel"]["$ref"].rsplit("/", 1)[1]: key.split(".")[0]
        for key, op in operations.items()
        if op["action"] == "send"
    }
    receives = sorted(key for key, op in operations.items() if op["action"] == "receive")

    assert sends == {
        "orders": "orders",
        "products": "products",
        "customers": "customers",
        "order-view-deadletters": "order-view",
        "notifications-deadletters": "notifications",
    }
    assert receives == sorted(f"{s['app']}.receive.{s['topic']}" for s in asyncapi.subscriptions())
    assert receives == [
        "notifications.receive.orders",
        "order-view.receive.customers",
        "order-view.receive.notifications-deadletters",
        "order-view.receive.order-view-deadletters",
        "order-view.receive.orders",
        "order-view.receive.products",
    ]
