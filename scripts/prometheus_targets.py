"""Writes the scrape targets of MONITORING=1's Prometheus (file_sd, read by
monitoring/prometheus.yml) from the multi-app run file scripts/run.sh starts:

    python scripts/prometheus_targets.py RUN_FILE BROKER OUT_DIR

OUT_DIR/apps.json       every app replica's own /metrics (its app port)
OUT_DIR/sidecars.json   every daprd's metrics port
OUT_DIR/rabbitmq.json   RabbitMQ's Prometheus plugin, when it is the broker (else no target)

Each target is labelled with its app-id (`app`) and replica number (`replica`, 0 for the first),
so one alert or panel covers every replica whatever REPLICAS is (scripts/replicas.py moves the
ports of replica k by 100 * k).
"""

import json
import sys
from pathlib import Path
from typing import Any

import yaml

RABBITMQ_METRICS = "127.0.0.1:15692"  # scripts/infra.sh: the rabbitmq_prometheus plugin


def targets(spec: dict[str, Any], port: str) -> list[dict[str, Any]]:
    """One file_sd group per process: the app-id's replicas in the order the run file lists them."""
    groups = []
    seen: dict[str, int] = {}
    for app in spec["apps"]:
        replica = seen.get(app["appID"], 0)
        seen[app["appID"]] = replica + 1
        groups.append(
            {
                "targets": [f"127.0.0.1:{app[port]}"],
                "labels": {"app": app["appID"], "replica": str(replica)},
            }
        )
    return groups


def main() -> None:
    run_file, broker, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    spec = yaml.safe_load(run_file.read_text())
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "apps.json": targets(spec, "appPort"),
        "sidecars.json": targets(spec, "metricsPort"),
        "rabbitmq.json": [{"targets": [RABBITMQ_METRICS]}] if broker == "rabbitmq" else [],
    }
    for name, groups in files.items():
        # Written whole, then renamed: Prometheus watches these files and must never read half of one.
        partial = out / f".{name}.tmp"
        partial.write_text(json.dumps(groups, indent=2) + "\n")
        partial.replace(out / name)


if __name__ == "__main__":
    main()
