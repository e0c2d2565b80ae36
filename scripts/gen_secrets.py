"""Generates the local secrets, once: the file the Dapr secret store reads (.run/secrets.json),
each app's API tokens (.run/api-tokens/<app-id>.env), each app's RabbitMQ password
(.run/rabbitmq-users.json) and Sentry's trust root (.run/sentry/).

Database passwords, the JWT signing key, the first admin's credentials and the app/sidecar API
tokens live only here, never in code. .run/ is git-ignored. Existing values are kept; missing
ones are added.
"""

import json
import secrets
import sys
from pathlib import Path

import trust_root
import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_IDS = tuple(app["appID"] for app in yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"])
TOKENS = ("DAPR_API_TOKEN", "APP_API_TOKEN")
# Where the API tokens were before each app had a pair of its own: one pair for every app.
SHARED_TOKENS = ("dapr-api-token", "app-api-token")


def generate() -> dict[str, str]:
    """Returns a fresh set of random secrets."""
    services = ("auth", "customers", "products", "orders", "notifications")
    values = {f"{svc}-db-password": secrets.token_urlsafe(24) for svc in services}
    values["jwt-signing-key"] = secrets.token_urlsafe(48)
    values["admin-email"] = "admin@example.com"
    values["admin-password"] = secrets.token_urlsafe(18)
    return values


def read_env(path: Path) -> dict[str, str]:
    """NAME=value lines (an env file as docker-compose and `source` read it)."""
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def ensure_api_tokens(directory: Path) -> str:
    """Each app's own pair of API tokens, in DIRECTORY/<app-id>.env: DAPR_API_TOKEN (the app to its
    sidecar: only the app may call its sidecar) and APP_API_TOKEN (the sidecar to its app: only its
    sidecar may call the app). A pair per app, so a token leaked from one app opens no other
    app's sidecar nor app. Outside the secret store on purpose: every app reads that one.
    scripts/run.sh hands each pair to its app and sidecar; docker-compose reads the files as
    env_file."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    made = []
    for app_id in APP_IDS:
        path = directory / f"{app_id}.env"
        tokens = read_env(path)
        if all(tokens.get(name) for name in TOKENS):
            continue
        pair = {name: tokens.get(name) or secrets.token_urlsafe(32) for name in TOKENS}
        path.write_text("".join(f"{name}={value}\n" for name, value in pair.items()))
        path.chmod(0o600)
        made.append(app_id)
    if made:
        return f"API tokens of {', '.join(made)} generated in {directory}"
    return f"API tokens in {directory}"


def ensure_broker_passwords(path: Path) -> str:
    """Each app's own RabbitMQ password (its sidecar connects as the app's user, which
    scripts/infra.sh creates with permissions for that app's exchanges and queues only:
    scripts/rabbitmq_users.py)."""
    passwords = json.loads(path.read_text()) if path.exists() else {}
    missing = [app_id for app_id in APP_IDS if not passwords.get(app_id)]
    if not missing:
        return f"RabbitMQ passwords in {path}"
    passwords.update({app_id: secrets.token_urlsafe(24) for app_id in missing})
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(passwords, indent=2) + "\n")
    return f"RabbitMQ passwords of {', '.join(missing)} generated in {path}"


def drop_shared_tokens(secrets_file: Path, values: dict[str, str]) -> dict[str, str]:
    """Forgets the one pair every app shared (an older setup's), from the secret store and its
    env file, so no app can read a token that once opened every sidecar."""
    kept = {key: value for key, value in values.items() if key not in SHARED_TOKENS}
    if kept != values:
        secrets_file.write_text(json.dumps(kept, indent=2) + "\n")
        print(f"[secrets] removed the API tokens every app shared from {secrets_file}")
    secrets_file.with_name("api-tokens.env").unlink(missing_ok=True)
    return kept


def main(path: str) -> None:
    target = Path(path)
    existing = json.loads(target.read_text()) if target.exists() else {}
    if existing:
        existing = drop_shared_tokens(target, existing)
    missing = {key: value for key, value in generate().items() if key not in existing}
    if not missing:
        print(f"[secrets] {target} is complete; keeping it")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({**existing, **missing}, indent=2) + "\n")
        target.chmod(0o600)
        added = "added " + ", ".join(sorted(missing)) + " to" if existing else "generated"
        print(f"[secrets] {added} {target}")
    print(f"[secrets] {ensure_api_tokens(target.with_name('api-tokens'))}")
    print(f"[secrets] {ensure_broker_passwords(target.with_name('rabbitmq-users.json'))}")
    print(f"[secrets] {trust_root.ensure(target.with_name('sentry'))}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".run/secrets.json")
