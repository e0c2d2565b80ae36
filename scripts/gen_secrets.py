"""Generates the local secrets file the Dapr secret store reads (.run/secrets.json), once.

Database passwords, the JWT signing key and the first admin's credentials live only here, never
in code. The file is git-ignored. Existing values are kept; missing ones are added.
"""

import json
import secrets
import sys
from pathlib import Path


def generate() -> dict[str, str]:
    """Returns a fresh set of random secrets."""
    services = ("auth", "customers", "products", "orders", "notifications")
    values = {f"{svc}-db-password": secrets.token_urlsafe(24) for svc in services}
    values["jwt-signing-key"] = secrets.token_urlsafe(48)
    values["admin-email"] = "admin@example.com"
    values["admin-password"] = secrets.token_urlsafe(18)
    return values


def main(path: str) -> None:
    target = Path(path)
    existing = json.loads(target.read_text()) if target.exists() else {}
    missing = {key: value for key, value in generate().items() if key not in existing}
    if not missing:
        print(f"[secrets] {target} is complete; keeping it")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({**existing, **missing}, indent=2) + "\n")
    target.chmod(0o600)
    print(f"[secrets] {'added ' + ', '.join(sorted(missing)) + ' to' if existing else 'generated'} {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".run/secrets.json")
