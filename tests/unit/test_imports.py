"""What each app keeps resident: heavy libraries stay out of the apps that do not use them
(every app is a long-running process; an imported module is never freed)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["gateway", "notifications", "auth", "customers", "products", "orders", "order_view"]
WITHOUT_DATABASE = {"gateway", "order_view"}


def imported_packages(app: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing the app."""
    code = f"import sys, services.{app}.main; print(' '.join({{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("app", APPS)
def test_apps_import_sqlalchemy_only_with_a_database_and_alembic_never(app: str) -> None:
    packages = imported_packages(app)

    assert "alembic" not in packages  # migrations run in a child process
    assert ("sqlalchemy" in packages) == (app not in WITHOUT_DATABASE)
