"""Generates the local secrets file the Dapr secret store reads (.run/secrets.json), once.

Database passwords, the JWT signing key, the first admin's credentials and the app/sidecar API
tokens live only here, never in code. The file is git-ignored. Existing values are kept; missing
ones are added.
"""

import json
import secrets
import sys
from pathlib import Path

import trust_root


def generate() -> dict[str, str]:
    """Returns a fresh set of random secrets."""
    services = ("auth", "customers", "products", "orders", "notifications")
    values = {f"{svc}-db-password": secrets.token_urlsafe(24) for svc in services}
    values["jwt-signing-key"] = secrets.token_urlsafe(48)
    values["admin-email"] = "admin@example.com"
    values["admin-password"] = secrets.token_urlsafe(18)
    # Between an app and its sidecar (scripts/run.sh exports them as DAPR_API_TOKEN and
    # APP_API_TOKEN): only the app may call its sidecar, only its sidecar may call the app.
    values["dapr-api-token"] = secrets.token_urlsafe(32)
    values["app-api-token"] = secrets.token_urlsafe(32)
    return values


def write_token_env(secrets_file: Path) -> Path:
    """The two API tokens as an env file (.run/api-tokens.env), for scripts/run.sh and for
    docker-compose's env_file: every daprd and every app gets the same pair."""
    values = json.loads(secrets_file.read_text())
    target = secrets_file.with_name("api-tokens.env")
    target.write_text(f"DAPR_API_TOKEN={values['dapr-api-token']}\nAPP_API_TOKEN={values['app-api-token']}\n")
    target.chmod(0o600)
    return target


def main(path: str) -> None:
    target = Path(path)
    existing = json.loads(target.read_text()) if target.exists() else {}
    missing = {key: value for key, value in generate().items() if key not in existing}
    if not missing:
        print(f"[secrets] {target} is complete; keeping it")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({**existing, **missing}, indent=2) + "\n")
        target.chmod(0o600)
        added = "added " + ", ".join(sorted(missing)) + " to" if existing else "generated"
        print(f"[secrets] {added} {target}")
    print(f"[secrets] API tokens for the sidecars in {write_token_env(target)}")
    print(f"[secrets] {trust_root.ensure(target.with_name('sentry'))}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".run/secrets.json")
