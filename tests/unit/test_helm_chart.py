"""The Helm chart in deploy/helm, checked offline: it lints, renders for every broker, every object
it renders passes kubeconform's strict validation against Kubernetes', Dapr's and KEDA's schemas,
and its Dapr resources say what components/ says. helm, kubeconform and the schemas are built by
`make setup` (scripts/build-k8s.sh tools); `make test-k8s` installs the chart on a real API server.
"""

import json
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import dapr_configs

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "dapr-shop"
BROKERS = sorted(path.name for path in (ROOT / "components" / "brokers").iterdir())
APP_IDS = {"gateway", "auth", "customers", "products", "orders", "order-view", "notifications"}
# Everything optional switched on, so the strict validation sees every template.
EVERYTHING = [
    "--set", "dev.enabled=true", "--set", "ingress.enabled=true",
    "--set", "networkPolicy.metricsNamespaceSelector.matchLabels.name=monitoring",
    *[arg for app in sorted(APP_IDS) for arg in ("--set", f"apps.{app}.autoscaling.enabled=true")],
]  # fmt: skip


@cache
def tool_paths() -> dict[str, Path]:
    """Where scripts/versions.sh puts helm, kubeconform and the schemas."""
    out = subprocess.run(
        ["bash", "-c", "source scripts/versions.sh && echo $K8S_TOOLS && echo $K8S_SCHEMAS"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    paths = {
        "helm": Path(out[0]) / "helm",
        "kubeconform": Path(out[0]) / "kubeconform",
        "schemas": Path(out[1]),
    }
    missing = [str(path) for path in paths.values() if not path.exists()]
    assert not missing, f"{', '.join(missing)} missing: run 'make setup' (scripts/build-k8s.sh tools)"
    return paths


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool_paths()["helm"]), *args], capture_output=True, text=True)


@cache
def render_text(*args: str) -> str:
    result = helm("template", "shop", str(CHART), "--namespace", "shop", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(*args: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(render_text(*args)) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def load_all(path: Path) -> Iterator[dict[str, Any]]:
    return (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def pod_templates(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]


@pytest.mark.parametrize("broker", BROKERS)
def test_the_chart_lints_cleanly_for_every_broker(broker: str) -> None:
    result = helm("lint", "--strict", str(CHART), "--set", f"broker={broker}")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "values",
    [[], EVERYTHING, *[["--set", f"broker={b}"] for b in BROKERS]],
    ids=["default", "everything", *BROKERS],
)
def test_every_rendered_object_passes_strict_schema_validation(values: list[str]) -> None:
    paths = tool_paths()
    result = subprocess.run(
        [str(paths["kubeconform"]), "-strict", "-summary", "-output", "text",
         "-schema-location", f"{paths['schemas']}/{{{{.ResourceKind}}}}{{{{.KindSuffix}}}}.json", "-"],
        input=render_text(*values), capture_output=True, text=True,
    )  # fmt: skip
    # A kind without a schema is skipped by default: -strict alone would not catch it.
    assert result.returncode == 0 and "Skipped: 0" in result.stdout, result.stdout + result.stderr


def test_strict_validation_catches_a_misspelt_field() -> None:
    paths = tool_paths()
    broken = render_text().replace("revisionHistoryLimit:", "revisionHistoryLimt:", 1)
    result = subprocess.run(
        [str(paths["kubeconform"]), "-strict", "-schema-location",
         f"{paths['schemas']}/{{{{.ResourceKind}}}}{{{{.KindSuffix}}}}.json", "-"],
        input=broken, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0 and "revisionHistoryLimt" in result.stdout


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["--set", "broker=zeromq"], "broker"),
        (["--set-string", "apps.orders.replicas=two"], "replicas"),
        (["--set", "apps.orders.replicas=-1"], "replicas"),
        (["--set", "apps.orders.replica=2"], "replica"),
        (["--set", "broker=redis", "--set", "apps.order-view.autoscaling.enabled=true"], "RabbitMQ queues"),
        (["--set", "monitoring.enabled=true", "--set", "monitoring.interval=often"], "interval"),
    ],
    ids=[
        "unknown-broker",
        "replicas-two",
        "negative-replicas",
        "misspelt-key",
        "keda-without-rabbitmq",
        "monitoring-interval",
    ],
)
def test_bad_values_are_refused_with_a_message_naming_them(values: list[str], message: str) -> None:
    result = helm("template", "shop", str(CHART), *values)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_every_app_is_a_deployment_with_its_sidecar_annotations_and_probes() -> None:
    docs = render()
    deployments = by_kind(docs, "Deployment")
    apps = {
        d["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-id"]: d for d in deployments.values()
    }
    assert set(apps) == APP_IDS
    ports = {app["appID"]: app["appPort"] for app in yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"]}
    for app_id, deployment in apps.items():
        pod = deployment["spec"]["template"]
        notes = pod["metadata"]["annotations"]
        assert notes["dapr.io/enabled"] == "true"
        assert notes["dapr.io/app-port"] == str(ports[app_id]), "the app ports are dapr.yaml's"
        assert notes["dapr.io/config"] == f"shop-{app_id}"
        # A pair of token Secrets per app, the same ones its container reads.
        assert notes["dapr.io/api-token-secret"] == f"dapr-shop-{app_id}-dapr-api-token"
        assert notes["dapr.io/app-token-secret"] == f"dapr-shop-{app_id}-app-api-token"
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["DAPR_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == notes["dapr.io/api-token-secret"]
        assert env["APP_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == notes["dapr.io/app-token-secret"]
        assert notes["dapr.io/enable-app-health-check"] == "true"
        (container,) = pod["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert deployment["spec"]["replicas"] == 2
        # A replica stopping drains: the app serves on while its Pod leaves the endpoints, and
        # the sidecar until the app has stopped, all within the grace period.
        assert container["lifecycle"]["preStop"]["sleep"]["seconds"] == 5
        assert notes["dapr.io/block-shutdown-duration"] == "30s"
        assert pod["spec"]["terminationGracePeriodSeconds"] > 5 + 30
        assert pod["spec"]["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert set(by_kind(docs, "PodDisruptionBudget")) == {f"shop-dapr-shop-{app}" for app in APP_IDS}


def test_only_the_gateway_and_the_websocket_have_a_service() -> None:
    services = by_kind(render("--set", "ingress.enabled=true"), "Service")
    assert set(services) == {"shop-dapr-shop-gateway", "shop-dapr-shop-notifications"}
    (ingress,) = by_kind(render("--set", "ingress.enabled=true"), "Ingress").values()
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/": "shop-dapr-shop-gateway", "/ws": "shop-dapr-shop-notifications"}


@pytest.mark.parametrize("values", [[], EVERYTHING], ids=["default", "everything"])
def test_every_pod_meets_the_restricted_pod_security_standard(values: list[str]) -> None:
    """The fields the restricted profile checks (the API server enforces it in make test-k8s)."""
    for name, pod in pod_templates(render(*values)):
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert not any(key in spec for key in ("hostNetwork", "hostPID", "hostIPC")), name
        assert all(
            set(volume) & {"emptyDir", "projected", "secret", "configMap"}
            for volume in spec.get("volumes", [])
        )
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert all("hostPort" not in port for port in container.get("ports", [])), name


def test_the_chart_holds_no_secret_value() -> None:
    docs = render(*EVERYTHING)
    assert not by_kind(docs, "Secret"), "Secrets are created beside the chart (deploy/README.md), never by it"
    for _, pod in pod_templates(docs):
        for container in pod["spec"]["containers"]:
            for env in container.get("env", []):
                if "TOKEN" in env["name"] or "PASSWORD" in env["name"] or "URL" in env["name"]:
                    assert "valueFrom" in env, f"{env['name']} must come from a Secret"


def test_autoscaling_uses_an_hpa_for_request_driven_apps_and_keda_for_subscribers() -> None:
    docs = render(*EVERYTHING)
    hpas = {
        doc["spec"]["scaleTargetRef"]["name"] for doc in by_kind(docs, "HorizontalPodAutoscaler").values()
    }
    scaled = by_kind(docs, "ScaledObject")
    assert hpas == {f"shop-dapr-shop-{app}" for app in APP_IDS - {"order-view", "notifications"}}
    assert set(scaled) == {"shop-dapr-shop-order-view", "shop-dapr-shop-notifications"}
    queues = {t["metadata"]["queueName"] for s in scaled.values() for t in s["spec"]["triggers"]}
    subscriptions = [doc for p in (ROOT / "components/subscriptions").glob("*.yaml") for doc in load_all(p)]
    # Dapr's RabbitMQ component names each queue "<app-id>-<topic>".
    assert queues == {
        f"{app}-{sub['spec']['topic']}"
        for sub in subscriptions
        for app in sub["scopes"]
        if "deadletters" not in sub["spec"]["topic"]
    }
    for deployment in by_kind(docs, "Deployment").values():
        if deployment["metadata"]["labels"].get("app.kubernetes.io/component") == "app":
            assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    assert not by_kind(render(), "HorizontalPodAutoscaler") and not by_kind(render(), "ScaledObject")


# --- the Dapr resources say what components/ says ---------------------------------------------
# The only differences Kubernetes makes, and the reason for each:
# - a setting read from the environment there (envRef SHOP_X_Y) is read from the connection
#   Secret here (secretKeyRef key x-y), resolved by Dapr's operator;
# - the secret store reads Kubernetes Secrets, not a local file;
# - each Component is scoped to the apps that use it;
# - the Configuration has no nameResolution (Kubernetes DNS is Dapr's default there) and sends
#   spans to infrastructure.zipkinEndpoint;
# - every resource carries the chart's labels.
SCOPES = {
    "pubsub": {"customers", "products", "orders", "order-view", "notifications"},
    "statestore": {"auth"},  # login throttling (services/auth/throttle.py)
    "instances": APP_IDS,
    "secretstore": APP_IDS - {"order-view"},
}


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A resource without what Kubernetes adds (labels, namespace)."""
    doc = json.loads(json.dumps(doc))
    doc["metadata"].pop("labels", None)
    return doc


def as_on_kubernetes(component: dict[str, Any]) -> dict[str, Any]:
    """A component of components/ the way the chart should render it."""
    component = json.loads(json.dumps(component))
    for item in component["spec"]["metadata"]:
        if "envRef" in item:
            key = item.pop("envRef").removeprefix("SHOP_").lower().replace("_", "-")
            item["secretKeyRef"] = {"name": "dapr-shop-connections", "key": key}
    component["scopes"] = sorted(SCOPES[component["metadata"]["name"]])
    return component


@pytest.mark.parametrize("broker", BROKERS)
def test_components_are_those_of_the_components_directory(broker: str) -> None:
    rendered = {
        name: comparable(doc)
        for name, doc in by_kind(render("--set", f"broker={broker}"), "Component").items()
    }
    for doc in rendered.values():
        doc["scopes"] = sorted(doc["scopes"])
    expected = [
        *load_all(ROOT / "components" / "brokers" / broker / "pubsub.yaml"),
        *load_all(ROOT / "components" / "statestore.yaml"),
        *load_all(ROOT / "components" / "instances.yaml"),
    ]
    for component in expected:
        assert rendered[component["metadata"]["name"]] == as_on_kubernetes(component)
    assert rendered["secretstore"]["spec"]["type"] == "secretstores.kubernetes"
    assert set(rendered) == {"pubsub", "statestore", "instances", "secretstore"}


def test_resiliency_and_subscriptions_are_those_of_the_components_directory() -> None:
    docs = render()
    for kind, files in (
        ("Resiliency", ["resiliency.yaml", "resiliency-idempotent-callers.yaml"]),
        (
            "Subscription",
            [f"subscriptions/{p.name}" for p in (ROOT / "components/subscriptions").glob("*.yaml")],
        ),
    ):
        expected = {doc["metadata"]["name"]: doc for f in files for doc in load_all(ROOT / "components" / f)}
        rendered = {name: comparable(doc) for name, doc in by_kind(docs, kind).items()}
        assert rendered == expected


def test_each_apps_configuration_is_the_one_make_run_gives_its_sidecar() -> None:
    """components/config.yaml plus the app's access control (scripts/dapr_configs.py), with the
    Kubernetes differences above; mTLS is the control plane's there, so not in the app's."""
    rendered = by_kind(
        render("--set", "infrastructure.zipkinEndpoint=http://z:9411/api/v2/spans"), "Configuration"
    )
    local = dapr_configs.configurations()
    assert set(rendered) == {f"shop-{app_id}" for app_id in APP_IDS}
    for app_id in APP_IDS:
        expected = local[f"{app_id}.yaml"]
        del expected["spec"]["nameResolution"], expected["spec"]["mtls"]
        expected["spec"]["tracing"]["zipkin"]["endpointAddress"] = "http://z:9411/api/v2/spans"
        for policy in expected["spec"]["accessControl"]["policies"]:
            policy["namespace"] = "shop"  # the release's namespace
        assert comparable(rendered[f"shop-{app_id}"]) == expected, app_id


def test_the_charts_access_control_is_a_copy_of_the_components_one() -> None:
    # Helm reads only files inside the chart: components/access-control.yaml is copied there.
    copy = CHART / "files" / "access-control.yaml"
    assert copy.read_text() == (ROOT / "components" / "access-control.yaml").read_text(), (
        f"cp components/access-control.yaml {copy.relative_to(ROOT)}"
    )


def test_changing_the_broker_changes_only_the_pubsub_component() -> None:
    rabbitmq, redis = render(), render("--set", "broker=redis")
    key = lambda doc: (doc["kind"], doc["metadata"]["name"])  # noqa: E731
    before, after = {key(d): d for d in rabbitmq}, {key(d): d for d in redis}
    assert before.keys() == after.keys()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {("Component", "pubsub")}


def test_network_policies_admit_apps_only_from_peers_and_the_ingress() -> None:
    policies = by_kind(render(*EVERYTHING), "NetworkPolicy")
    for app in APP_IDS:
        rules = policies[f"shop-dapr-shop-{app}"]["spec"]["ingress"]
        sources = [rule["from"][0] for rule in rules]
        assert sources[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "app"
        assert rules[0]["ports"] == [{"protocol": "TCP", "port": 50002}]
        from_ingress = any("ingress-nginx" in json.dumps(source) for source in sources)
        assert from_ingress == (app in {"gateway", "notifications"}), app
    mariadb = policies["shop-dapr-shop-dev-mariadb"]["spec"]["ingress"][0]["from"][0]["podSelector"]
    users = mariadb["matchExpressions"][1]["values"]
    assert set(users) == {"auth", "customers", "products", "orders", "notifications", "dev-provision"}


# The Prometheus Operator's kinds: its CRDs are not among kubeconform's schemas here (the module
# that ships them is not served), so their fields are checked below instead.
MONITORING = ["--set", "monitoring.enabled=true", "--set", "monitoring.labels.release=kps"]


def test_monitoring_objects_are_off_by_default() -> None:
    kinds = {doc["kind"] for doc in render(*EVERYTHING)}

    assert kinds.isdisjoint({"PodMonitor", "ServiceMonitor", "PrometheusRule"})


def test_pod_monitors_scrape_every_app_and_sidecar_labelled_as_the_alerts_read_them() -> None:
    docs = render(*MONITORING)
    monitors = by_kind(docs, "PodMonitor")
    pods = dict(pod_templates(docs))
    app_pods = {name: pod for name, pod in pods.items() if name.removeprefix("shop-dapr-shop-") in APP_IDS}

    assert set(monitors) == {"shop-dapr-shop-apps", "shop-dapr-shop-sidecars"}
    for name, monitor in monitors.items():
        assert monitor["metadata"]["labels"]["release"] == "kps", name
        selector = monitor["spec"]["selector"]["matchLabels"]
        selected = {n for n, pod in pods.items() if selector.items() <= pod["metadata"]["labels"].items()}
        assert selected == set(app_pods), name
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        relabel = {rule["targetLabel"]: rule for rule in endpoint["relabelings"]}
        job = relabel["job"]["replacement"]
        # The labels of monitoring/prometheus.yml's targets: job, app (the app-id), replica.
        assert job == name.removeprefix("shop-dapr-shop-")
        assert relabel["app"]["sourceLabels"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
        assert relabel["replica"]["sourceLabels"] == ["__meta_kubernetes_pod_name"]
        if job == "apps":  # the app container's named port; daprd's is named by Dapr's injector
            for pod in app_pods.values():
                (app,) = [c for c in pod["spec"]["containers"] if c["name"] == "app"]
                assert endpoint["port"] in {port["name"] for port in app["ports"]}
        else:
            assert endpoint["port"] == "dapr-metrics"
    for name, pod in app_pods.items():
        assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == name.removeprefix("shop-dapr-shop-")


def test_the_prometheus_rule_is_monitoring_alerts_yaml_itself() -> None:
    (rule,) = by_kind(render(*MONITORING), "PrometheusRule").values()

    assert rule["spec"] == yaml.safe_load((ROOT / "monitoring" / "alerts.yaml").read_text())
    # Prometheus' own templates reach it untouched by Helm's.
    assert "{{ $labels.app }}" in json.dumps(rule["spec"])


def test_the_monitoring_namespace_may_scrape_each_app_and_its_sidecar() -> None:
    policies = by_kind(render(*EVERYTHING), "NetworkPolicy")
    run_file = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    app_ports = {app["appID"]: app["appPort"] for app in run_file["apps"]}
    for app in APP_IDS:
        rules = policies[f"shop-dapr-shop-{app}"]["spec"]["ingress"]
        (metrics,) = [rule for rule in rules if "monitoring" in json.dumps(rule["from"])]
        assert {port["port"] for port in metrics["ports"]} == {9090, app_ports[app]}, app
