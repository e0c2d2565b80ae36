"""What docker-compose.yml reads from .run/compose/ (scripts/compose_files.py, `make secrets`): each
sidecar's Configuration, the same as `make run` gives it but for where spans go and how long
certificates live; each sidecar's own RabbitMQ user and the trust root, in an env file compose
reads; RabbitMQ's users, each app's own and the operator's, never `guest`."""

import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from dotenv import dotenv_values

from scripts import compose_files, dapr_configs
from scripts.rabbitmq_users import permission_entry
from scripts.trust_root import generate

APPS = dapr_configs.APP_IDS
DAPR_DEFAULTS = {"enabled": True, "workloadCertTTL": "24h", "allowedClockSkew": "15m"}


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A .run/ with what `make setup` made: the apps' RabbitMQ passwords and the trust root."""
    run = tmp_path / "run"
    (run / "sentry").mkdir(parents=True)
    (run / "sentry/ca.crt").write_bytes(generate()["ca.crt"])
    (run / "rabbitmq-users.json").write_text(json.dumps({app_id: f"pw-{app_id}" for app_id in APPS}))
    return run


@pytest.fixture
def out(tmp_path: Path, run: Path) -> Path:
    out = tmp_path / "compose"
    compose_files.write(out, run)
    return out


def test_each_sidecar_gets_the_configuration_make_run_gives_it_with_composes_zipkin_and_certificates(
    out: Path,
) -> None:
    local = dapr_configs.configurations(dapr_configs.RUN)
    written = {path.name for path in (out / "config").iterdir()}

    assert written == {f"{app_id}.yaml" for app_id in APPS} | {"sentry.yaml"}
    for app_id in APPS:
        compose = yaml.safe_load((out / "config" / f"{app_id}.yaml").read_text())
        assert compose["spec"]["tracing"]["zipkin"]["endpointAddress"] == "http://zipkin:9411/api/v2/spans"
        # Dapr's defaults (scripts/dapr_configs.py says why), where make run has 2 minutes.
        assert compose["spec"]["mtls"] == {
            "enabled": True,
            "workloadCertTTL": "24h",
            "allowedClockSkew": "15m",
        }
        assert without(compose, "mtls") == without(local[f"{app_id}.yaml"], "mtls"), app_id
    sentry = yaml.safe_load((out / "config/sentry.yaml").read_text())
    assert sentry["spec"] == {"mtls": DAPR_DEFAULTS}


def without(config: dict[str, Any], section: str) -> dict[str, Any]:
    """A Configuration without one section of its spec, and without where its spans go."""
    spec = {key: value for key, value in config["spec"].items() if key != section}
    spec["tracing"] = {key: value for key, value in spec["tracing"].items() if key != "zipkin"}
    return {**config, "spec": spec}


def test_each_sidecars_env_file_has_its_own_rabbitmq_user_and_the_trust_root(out: Path, run: Path) -> None:
    root = (run / "sentry/ca.crt").read_text()
    for app_id in APPS:
        path = out / "sidecars" / f"{app_id}.env"
        # python-dotenv reads a double-quoted value's escapes as compose-go's dotenv does.
        values = dotenv_values(stream=io.StringIO(path.read_text()))

        assert values["SHOP_RABBITMQ_URL"] == f"amqp://{app_id}:pw-{app_id}@rabbitmq:5672"
        assert values["DAPR_TRUST_ANCHORS"] == root
        assert len(path.read_text().splitlines()) == 3  # a comment and two values: the PEM on one line
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rabbitmq_loads_each_apps_user_and_an_administrator_and_no_guest(out: Path) -> None:
    definitions = json.loads((out / "rabbitmq-definitions.json").read_text())
    users = {user["name"]: user["tags"] for user in definitions["users"]}
    permissions = {entry["user"]: entry for entry in definitions["permissions"]}

    assert users == {**{app_id: [] for app_id in APPS}, "admin": ["administrator"]}
    assert all(permissions[app_id] == permission_entry(app_id) for app_id in APPS)
    everything = {"configure": ".*", "write": ".*", "read": ".*"}
    assert permissions["admin"] == {"user": "admin", "vhost": "/", **everything}
    assert stat.S_IMODE((out / "rabbitmq-definitions.json").stat().st_mode) == 0o600


def test_the_administrators_password_is_made_once_and_kept(out: Path, run: Path) -> None:
    first = (out / "rabbitmq-admin-password").read_text()

    compose_files.write(out, run)

    assert (out / "rabbitmq-admin-password").read_text() == first
    assert len(first.strip()) >= 32
    assert stat.S_IMODE((out / "rabbitmq-admin-password").stat().st_mode) == 0o600


def test_without_the_secrets_setup_makes_it_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="make secrets"):
        compose_files.write(tmp_path / "compose", tmp_path / "empty")
