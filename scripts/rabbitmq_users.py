"""Each app's own RabbitMQ user, allowed only the exchanges and queues its sidecar uses.

    python scripts/rabbitmq_users.py DEFINITIONS    # writes RabbitMQ's definitions file

The users, their permissions and the default virtual host as RabbitMQ definitions, which
scripts/infra.sh has RabbitMQ load when it starts (`load_definitions`), or imports into one
already running. The passwords are made once by `make setup` (.run/rabbitmq-users.json,
scripts/gen_secrets.py); scripts/app_tokens.py gives each sidecar its own user in
SHOP_RABBITMQ_URL, which components/brokers/rabbitmq/pubsub.yaml reads.

The permissions follow the topic scoping of that component, so the broker enforces what each
sidecar already does, for anyone holding an app's credentials. Dapr's RabbitMQ pub/sub
(components-contrib pubsub/rabbitmq) uses, per topic T:
  - to publish: the fanout exchange T, declared then written to (configure, write);
  - to subscribe as app S: T declared (configure) and bound from (read); the queue S-T declared,
    bound (write) and consumed (read); with dead-lettering on, the exchange dlx-S-T (configure,
    read: bound from; write: RabbitMQ creates a queue whose dead-letter exchange it is only for
    a user who may write there, ACCESS_REFUSED otherwise) and the queue dlq-S-T (configure,
    write: bound).
So products' user cannot publish to `orders` (ACCESS_REFUSED), nor read another app's queue.
"""

import base64
import hashlib
import json
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "components/brokers/rabbitmq/pubsub.yaml"
PASSWORDS = ROOT / ".run/rabbitmq-users.json"


def scopes(field: str) -> dict[str, list[str]]:
    """A scoping field of the component ("app=t1,t2;app2=") as app-id -> topics."""
    items = yaml.safe_load(COMPONENT.read_text())["spec"]["metadata"]
    metadata = {item["name"]: item.get("value", "") for item in items}
    found: dict[str, list[str]] = {}
    for entry in filter(None, metadata[field].split(";")):
        app_id, _, topics = entry.partition("=")
        found[app_id] = [topic for topic in topics.split(",") if topic]
    return found


def permissions(app_id: str) -> dict[str, list[str]]:
    """The exchanges and queues an app's sidecar may configure, write and read."""
    published = scopes("publishingScopes").get(app_id, [])
    subscribed = scopes("subscriptionScopes").get(app_id, [])
    queues = [f"{app_id}-{topic}" for topic in subscribed]
    return {
        "configure": published + subscribed + queues + [f"dl{x}-{q}" for q in queues for x in "xq"],
        "write": published + queues + [f"dl{x}-{q}" for q in queues for x in "xq"],
        "read": subscribed + queues + [f"dlx-{q}" for q in queues],
    }


def pattern(names: list[str]) -> str:
    """A RabbitMQ permission: exactly these names ("^$" matches none)."""
    if not names:
        return "^$"
    # Names are app-ids and topics: letters, digits and hyphens, which need no escaping.
    return "^(" + "|".join(re.escape(name).replace("\\-", "-") for name in sorted(set(names))) + ")$"


def password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def permission_entry(app_id: str) -> dict[str, str]:
    """An app's permissions on the default virtual host, as RabbitMQ's definitions hold them."""
    return {
        "user": app_id,
        "vhost": "/",
        **{kind: pattern(names) for kind, names in permissions(app_id).items()},
    }


def definitions(passwords: dict[str, str]) -> dict[str, Any]:
    apps = sorted(passwords)
    return {
        "vhosts": [{"name": "/"}],
        "users": [
            {
                "name": app_id,
                "password_hash": password_hash(passwords[app_id]),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for app_id in apps
        ],
        "permissions": [permission_entry(app_id) for app_id in apps],
    }


def main() -> None:
    if not PASSWORDS.exists():
        sys.exit(f"no {PASSWORDS.relative_to(ROOT)}: run 'make setup'")
    target = Path(sys.argv[1])
    target.touch(mode=0o600)
    target.chmod(0o600)
    target.write_text(json.dumps(definitions(json.loads(PASSWORDS.read_text())), indent=2) + "\n")


if __name__ == "__main__":
    main()
