"""Generates the local secrets file the Dapr secret store reads (.run/secrets.json), once.

Database passwords, the JWT signing key and the first admin's credentials live only here, never
in code. The file is git-ignored; delete it (and `make infra-reset`) to rotate everything.
"""

import json
import secrets
import sys
from pathlib import Path


def generate() -> dict[str, str]:
    """Returns a fresh set of random secrets."""
    values = {
        f"{svc}-db-password": secrets.token_urlsafe(24) for svc in ("auth", "customers", "products", "orders")
    }
    values["jwt-signing-key"] = secrets.token_urlsafe(48)
    values["admin-email"] = "admin@example.com"
    values["admin-password"] = secrets.token_urlsafe(18)
    return values


def main(path: str) -> None:
    target = Path(path)
    if target.exists():
        print(f"[secrets] {target} already exists; keeping it")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(generate(), indent=2) + "\n")
    target.chmod(0o600)
    print(f"[secrets] generated {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".run/secrets.json")
