"""Gives each app and its own sidecar their own pair of API tokens in a multi-app run.

    python scripts/app_tokens.py RUN_FILE DAPRD OUT    # writes OUT (a run file) and .run/sidecars/

`dapr run -f` starts every app and every daprd from its own environment: a run file's `env:`
reaches the app only, and daprd inherits the CLI's environment as it is (dapr/cli
pkg/standalone/run.go: GetAppCommand adds `env`, GetDaprCommand adds nothing). Exporting the
tokens to the CLI would give every app the same pair. So, for each app of RUN_FILE (dapr.yaml,
or the replicas' run file), OUT has:
  - `env:` with the app's DAPR_API_TOKEN and APP_API_TOKEN, for the app;
  - `runtimePath: .run/sidecars/<app-id>`, where the CLI finds `.dapr/bin/daprd`: a short
    script that reads the same app's tokens (.run/api-tokens/<app-id>.env, scripts/gen_secrets.py),
    sets SHOP_RABBITMQ_URL to the app's own RabbitMQ user (scripts/rabbitmq_users.py) and
    executes the real DAPRD in its place (same process, so the CLI stops it as before), with
    the block-shutdown period a rolling restart drains a replica in (scripts/restart.py).
Replicas of an app share its pair. OUT holds tokens: it is written under .run/, mode 0600, and
every relative path in it is made absolute (the CLI reads them relative to the run file).
"""

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
TOKENS_DIR = ROOT / ".run/api-tokens"
SIDECARS_DIR = ROOT / ".run/sidecars"
BROKER_PASSWORDS = ROOT / ".run/rabbitmq-users.json"


def app_tokens(app_id: str) -> dict[str, str]:
    """An app's DAPR_API_TOKEN and APP_API_TOKEN (made by `make setup`)."""
    path = TOKENS_DIR / f"{app_id}.env"
    if not path.exists():
        sys.exit(f"no {path.relative_to(ROOT)}: run 'make setup'")
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def broker_url(app_id: str) -> str:
    """SHOP_RABBITMQ_URL (scripts/env.sh) with the app's own RabbitMQ user and password."""
    passwords = json.loads(BROKER_PASSWORDS.read_text()) if BROKER_PASSWORDS.exists() else {}
    if app_id not in passwords:
        sys.exit(f"no RabbitMQ password for {app_id} in {BROKER_PASSWORDS}: run 'make setup'")
    url = urlsplit(os.environ.get("SHOP_RABBITMQ_URL", "amqp://127.0.0.1:5672"))
    return urlunsplit(url._replace(netloc=f"{app_id}:{passwords[app_id]}@{url.hostname}:{url.port or 5672}"))


# On SIGTERM a sidecar leaves name resolution, stops taking pub/sub deliveries and goes on
# serving until its app has stopped (its health probes fail) or this long has passed
# (scripts/restart.py drains a replica so; the CLI itself stops sidecars with SIGKILL).
BLOCK_SHUTDOWN = "30s"


def daprd_wrapper(app_id: str, daprd: Path) -> Path:
    """The runtime path whose `.dapr/bin/daprd` starts DAPRD with this app's tokens, and with
    its own RabbitMQ user (the sidecar's only: the app never talks to the broker)."""
    runtime = SIDECARS_DIR / app_id
    script = runtime / ".dapr/bin/daprd"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.touch(mode=0o700)
    script.chmod(0o700)
    script.write_text(
        "#!/bin/sh\n"
        f"# {app_id}'s sidecar with {app_id}'s own API tokens and RabbitMQ user (scripts/app_tokens.py).\n"
        f"set -a; . {shlex.quote(str(TOKENS_DIR / f'{app_id}.env'))}; set +a\n"
        f"export SHOP_RABBITMQ_URL={shlex.quote(broker_url(app_id))}\n"
        f'exec {shlex.quote(str(daprd))} "$@" --dapr-block-shutdown-duration {BLOCK_SHUTDOWN}\n'
    )
    return runtime


def with_tokens(spec: dict[str, Any], base: Path, daprd: Path) -> dict[str, Any]:
    """RUN_FILE's spec (read from directory `base`) with each app's tokens, paths made absolute."""
    common = dict(spec["common"])
    common["resourcesPaths"] = [os.path.normpath(base / p) for p in common.get("resourcesPaths", [])]
    if common.get("configFilePath"):
        common["configFilePath"] = os.path.normpath(base / common["configFilePath"])
    apps = []
    for app in spec["apps"]:
        entry = dict(app)
        app_dir = Path(os.path.normpath(base / app.get("appDirPath", ".")))
        entry["appDirPath"] = str(app_dir)
        # An app's own paths are relative to its directory.
        if entry.get("configFilePath"):
            entry["configFilePath"] = os.path.normpath(app_dir / entry["configFilePath"])
        if entry.get("resourcesPaths"):
            entry["resourcesPaths"] = [os.path.normpath(app_dir / p) for p in entry["resourcesPaths"]]
        entry["env"] = {**app.get("env", {}), **app_tokens(app["appID"])}
        entry["runtimePath"] = str(daprd_wrapper(app["appID"], daprd))
        apps.append(entry)
    return {**spec, "common": common, "apps": apps}


def main() -> None:
    run_file, daprd, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    spec = with_tokens(yaml.safe_load(run_file.read_text()), run_file.resolve().parent, daprd)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before the tokens are in it. JSON is YAML: the CLI reads it as it reads dapr.yaml.
    out.touch(mode=0o600)
    out.chmod(0o600)
    out.write_text(json.dumps(spec, indent=2) + "\n")


if __name__ == "__main__":
    main()
