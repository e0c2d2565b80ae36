"""Writes what docker-compose.yml reads besides the secrets, from them and components/ (make secrets).

    python scripts/compose_files.py OUT_DIR      # .run/compose/

  OUT_DIR/config/<app-id>.yaml       each sidecar's own Configuration: components/compose/config.yaml
                                     plus mTLS, its access control and its secrets (scripts/dapr_configs.py);
  OUT_DIR/config/sentry.yaml         Sentry's (the workload certificates' lifetime);
  OUT_DIR/sidecars/<app-id>.env      the sidecar's own RabbitMQ user (SHOP_RABBITMQ_URL) and the root
                                     its mTLS trusts (DAPR_TRUST_ANCHORS: daprd reads it from its
                                     environment only), as the sidecar's second env_file;
  OUT_DIR/rabbitmq-definitions.json  every app's RabbitMQ user and permissions (scripts/rabbitmq_users.py)
                                     and ADMIN's, which RabbitMQ loads when it starts;
  OUT_DIR/rabbitmq-admin-password    ADMIN's password, for the management UI (made once, kept).

The secrets come from .run/ (scripts/gen_secrets.py made them once). Everything else is written
again each time, so a change to components/access-control.yaml or to the topic scoping reaches
docker-compose at the next `make secrets`. The `secrets` service of docker-compose.yml hands these
files to the containers' users.
"""

import json
import secrets
import string
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts import dapr_configs, rabbitmq_users  # noqa: E402

RUN = ROOT / ".run"
# RabbitMQ's operator, for the management UI (http://localhost:15672): loading definitions when
# it starts, RabbitMQ creates no `guest`, and no app's user may see more than its own queues.
ADMIN = "admin"


def private(path: Path, text: str) -> None:
    """Writes `text` to `path`, which only this user may read (created so before it is written)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def sidecar_env(app_id: str, password: str, trust_anchors: str) -> str:
    """An app's sidecar's env file, in compose's format (compose-go's dotenv: a double-quoted value
    may hold `\\n` escapes, which is how a PEM fits on one line)."""
    # Base64 lines between BEGIN and END: nothing compose would unescape or interpolate.
    assert set(trust_anchors) <= set(string.ascii_letters + string.digits + "+/=- \n"), "not a PEM"
    pem = trust_anchors.strip().replace("\n", "\\n") + "\\n"
    return (
        f"# The sidecar of {app_id}: its own RabbitMQ user, and the root its mTLS trusts "
        "(scripts/compose_files.py).\n"
        f"SHOP_RABBITMQ_URL=amqp://{app_id}:{quote(password, safe='')}@rabbitmq:5672\n"
        f'DAPR_TRUST_ANCHORS="{pem}"\n'
    )


def broker_definitions(passwords: dict[str, str], admin_password: str) -> dict[str, Any]:
    """The apps' users (as `make run` has them) and ADMIN: every tag and permission, for people."""
    if ADMIN in passwords:
        sys.exit(f"an app is named {ADMIN!r}, the name of RabbitMQ's operator here: rename one")
    definitions = rabbitmq_users.definitions(passwords)
    definitions["users"].append(
        {
            "name": ADMIN,
            "password_hash": rabbitmq_users.password_hash(admin_password),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": ["administrator"],
        }
    )
    definitions["permissions"].append(
        {"user": ADMIN, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
    )
    return definitions


def admin_password(path: Path) -> str:
    """ADMIN's password: the one made before, or a new one."""
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    password = secrets.token_urlsafe(24)
    private(path, password + "\n")
    return password


def write(out: Path, run: Path = RUN) -> None:
    """Every file docker-compose.yml reads from OUT_DIR, from the secrets in `run`."""
    needed = [run / "rabbitmq-users.json", run / "sentry/ca.crt"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        sys.exit(f"no {', '.join(missing)}: run 'make secrets' (or 'make setup')")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    dapr_configs.write(out / "config", dapr_configs.COMPOSE)
    passwords = json.loads((run / "rabbitmq-users.json").read_text())
    trust_anchors = (run / "sentry/ca.crt").read_text()
    (out / "sidecars").mkdir(exist_ok=True)
    for app_id in dapr_configs.APP_IDS:
        private(out / "sidecars" / f"{app_id}.env", sidecar_env(app_id, passwords[app_id], trust_anchors))
    definitions = broker_definitions(passwords, admin_password(out / "rabbitmq-admin-password"))
    private(out / "rabbitmq-definitions.json", json.dumps(definitions, indent=2) + "\n")


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".run/compose")
    write(target)
    print(f"[secrets] docker-compose's Configurations, sidecar env files and RabbitMQ users in {target}")
