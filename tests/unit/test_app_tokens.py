"""Each app and its own sidecar get the app's own tokens from the run file `dapr run -f` reads
(scripts/app_tokens.py): the app through `env:`, daprd through the start script the app's
runtimePath holds, which the CLI runs in place of daprd."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import app_tokens

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The run file for dapr.yaml, with tokens and passwords of the test's own."""
    spec = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    app_ids = [app["appID"] for app in spec["apps"]]
    tokens = tmp_path / "api-tokens"
    tokens.mkdir()
    for app_id in app_ids:
        (tokens / f"{app_id}.env").write_text(f"DAPR_API_TOKEN=dapr-{app_id}\nAPP_API_TOKEN=app-{app_id}\n")
    passwords = tmp_path / "rabbitmq-users.json"
    passwords.write_text(json.dumps({app_id: f"pw-{app_id}" for app_id in app_ids}))
    monkeypatch.setattr(app_tokens, "TOKENS_DIR", tokens)
    monkeypatch.setattr(app_tokens, "SIDECARS_DIR", tmp_path / "sidecars")
    monkeypatch.setattr(app_tokens, "BROKER_PASSWORDS", passwords)
    monkeypatch.setenv("SHOP_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
    # A stand-in for daprd that prints what it was started with.
    daprd = tmp_path / "daprd"
    daprd.write_text('#!/bin/sh\necho "$DAPR_API_TOKEN $APP_API_TOKEN $SHOP_RABBITMQ_URL $*"\n')
    daprd.chmod(0o755)
    return app_tokens.with_tokens(spec, ROOT, daprd)


def test_each_app_gets_its_own_tokens_in_its_env(made: dict[str, Any]) -> None:
    for app in made["apps"]:
        app_id = app["appID"]
        assert app["env"] == {"DAPR_API_TOKEN": f"dapr-{app_id}", "APP_API_TOKEN": f"app-{app_id}"}


def test_each_sidecar_starts_with_its_apps_tokens_and_rabbitmq_user(
    made: dict[str, Any],
) -> None:
    for app in made["apps"]:
        app_id = app["appID"]
        started = subprocess.run(
            [Path(app["runtimePath"]) / ".dapr/bin/daprd", "--app-id", app_id],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        ).stdout.split()
        assert started == [
            f"dapr-{app_id}",
            f"app-{app_id}",
            f"amqp://{app_id}:pw-{app_id}@127.0.0.1:5672",
            "--app-id",
            app_id,
            # Drained by a rolling restart (scripts/restart.py) before it stops.
            "--dapr-block-shutdown-duration",
            "30s",
        ]


def test_every_path_is_absolute_so_the_file_can_live_under_run(made: dict[str, Any]) -> None:
    common = made["common"]
    assert all(Path(p).is_absolute() for p in common["resourcesPaths"])
    assert Path(common["configFilePath"]).is_absolute()
    for app in made["apps"]:
        assert Path(app["appDirPath"]) == ROOT
        assert Path(app["configFilePath"]) == ROOT / ".run/config" / f"{app['appID']}.yaml"
