"""Each app's RabbitMQ user may touch only what its sidecar uses (scripts/rabbitmq_users.py):
the permissions follow the topic scoping of components/brokers/rabbitmq/pubsub.yaml."""

import base64
import hashlib
import re

from scripts.rabbitmq_users import definitions, password_hash, pattern, permissions, scopes

APPS = ("gateway", "notifications", "auth", "customers", "products", "orders", "order-view")


def allows(kind: str, app_id: str, name: str) -> bool:
    """Whether RabbitMQ would grant `kind` on `name` to the app (a permission is a full match)."""
    return re.search(pattern(permissions(app_id)[kind]), name) is not None


def test_only_a_topics_owner_may_publish_to_its_exchange() -> None:
    publishers = scopes("publishingScopes")
    for topic in ("orders", "customers", "products", "order-view-deadletters", "notifications-deadletters"):
        writers = {app_id for app_id in APPS if allows("write", app_id, topic)}
        assert writers == {app_id for app_id, topics in publishers.items() if topic in topics}, topic


def test_a_subscriber_reads_its_own_queues_only() -> None:
    assert allows("read", "order-view", "order-view-orders")
    assert allows("write", "order-view", "order-view-orders")  # binding it to its exchange
    assert allows("configure", "order-view", "dlq-order-view-orders")
    assert not allows("read", "notifications", "order-view-orders")
    assert not allows("read", "order-view", "notifications-orders")
    # Exact names: order-view's permission on "orders" is no permission on "orders-2".
    assert not allows("read", "order-view", "orders-2")


def test_a_subscriber_may_write_to_its_own_dead_letter_exchange_only() -> None:
    # RabbitMQ creates a queue with an x-dead-letter-exchange only for a user who may write to
    # that exchange (ACCESS_REFUSED on a broker where the queue does not exist yet).
    assert allows("write", "order-view", "dlx-order-view-orders")
    assert allows("write", "notifications", "dlx-notifications-orders")
    assert not allows("write", "notifications", "dlx-order-view-orders")
    assert not allows("write", "orders", "dlx-notifications-orders")


def test_apps_that_neither_publish_nor_subscribe_may_do_nothing() -> None:
    for app_id in ("gateway", "auth"):
        assert {kind: pattern(names) for kind, names in permissions(app_id).items()} == dict.fromkeys(
            ("configure", "write", "read"), "^$"
        )


def test_definitions_hold_every_users_password_as_rabbitmq_hashes_it() -> None:
    made = definitions({app_id: f"{app_id}-password" for app_id in APPS})

    assert {user["name"] for user in made["users"]} == set(APPS)
    assert {entry["user"] for entry in made["permissions"]} == set(APPS)
    digest = base64.b64decode(password_hash("secret"))
    salt = digest[:4]
    assert digest[4:] == hashlib.sha256(salt + b"secret").digest()
