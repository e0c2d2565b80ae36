"""The monitoring files, checked offline with the real promtool (built by `make setup`,
scripts/build-prometheus.sh): the Prometheus configuration and the alert rules are valid, every
alert fires and stays quiet in its unit tests (monitoring/tests, synthetic series), and every
alert tells an operator what to do. The scrape targets cover every app and sidecar port the run
file starts, whatever REPLICAS is."""

import importlib.util
import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RULE_TESTS = sorted((MONITORING / "tests").glob("*.yaml"))

spec = importlib.util.spec_from_file_location("prometheus_targets", ROOT / "scripts/prometheus_targets.py")
assert spec is not None and spec.loader is not None
prometheus_targets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prometheus_targets)


@cache
def promtool() -> Path:
    """Where scripts/versions.sh puts promtool; missing, the test fails and says how to build it."""
    home = subprocess.run(
        ["bash", "-c", "source scripts/versions.sh && echo $PROMETHEUS_HOME"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    path = Path(home) / "promtool"
    assert path.exists(), f"{path} missing: run 'make setup' (scripts/build-prometheus.sh)"
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool()), *args], cwd=MONITORING, capture_output=True, text=True)


def alerting_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_alert_rules_are_valid() -> None:
    result = run_promtool("check", "rules", "alerts.yaml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_prometheus_configuration_is_valid() -> None:
    # Its rule files are checked with it; the target files run.sh writes need not exist.
    result = run_promtool("check", "config", "prometheus.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say() -> None:
    result = run_promtool("test", "rules", *(str(path) for path in RULE_TESTS))

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_where_it_fires_and_one_where_it_stays_quiet() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alerting_rules()}

    assert names - fires == set(), "alerts no unit test sees firing"
    assert names - quiet == set(), "alerts no unit test sees staying quiet"


def test_every_alert_has_a_severity_a_summary_and_a_description_that_says_what_to_do() -> None:
    for rule in alerting_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert len(rule["annotations"]["description"]) > 100, f"{rule['alert']}: say what to do"


def test_the_targets_cover_every_app_and_sidecar_of_the_run_file() -> None:
    run_file = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    two = {"apps": [dict(app, **{p: app[p] + 100 * k for p in ("appPort", "metricsPort")})
                    for app in run_file["apps"] for k in (0, 1)]}  # fmt: skip

    apps = prometheus_targets.targets(two, "appPort")
    sidecars = prometheus_targets.targets(two, "metricsPort")

    assert sorted(group["targets"][0] for group in apps) == sorted(
        f"127.0.0.1:{app['appPort']}" for app in two["apps"]
    )
    assert {group["targets"][0] for group in sidecars} >= {"127.0.0.1:9150", "127.0.0.1:9250"}
    orders = [group["labels"] for group in sidecars if group["labels"]["app"] == "orders"]
    assert orders == [{"app": "orders", "replica": "0"}, {"app": "orders", "replica": "1"}]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of the Grafana dashboard."""
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses PromQL only in rules: each query becomes a recording rule.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{n}", "expr": expr} for n, (_, expr) in enumerate(dashboard_queries())
    ]}]}  # fmt: skip
    (tmp_path / "dashboard-rules.yaml").write_text(yaml.safe_dump(rules))

    result = run_promtool("check", "rules", str(tmp_path / "dashboard-rules.yaml"))

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_panel_reads_the_datasource_chosen_at_import_and_says_what_it_shows() -> None:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]

    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["description"] and panel["targets"], panel["title"]
