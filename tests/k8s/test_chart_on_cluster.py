"""The Helm chart installed on a real control plane: admitted under the restricted Pod Security
Standard, scheduled on (simulated) nodes, every Pod given its daprd sidecar by Dapr's own injector,
every Dapr resource accepted by Dapr's CRDs, then upgraded, rolled back and uninstalled.

No container runs (KWOK reports scheduled Pods running): what this proves is everything the API
server, its admission chain, the controllers and Dapr's injector decide; not that the apps work
there (deploy/README.md says how to run the e2e suite on a cluster that runs containers).
The tests run in order, as one install's life.
"""

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from harness.waiting import wait_until
from tests.k8s.cluster import NODES, ROOT, ControlPlane

CHART = str(ROOT / "deploy" / "helm" / "dapr-shop")
NAMESPACE, RELEASE = "shop", "shop"
APP_IDS = {"gateway", "auth", "customers", "products", "orders", "order-view", "notifications"}
REQUEST_DRIVEN = APP_IDS - {"order-view", "notifications"}
DAPR_KINDS = ("components.dapr.io", "configurations.dapr.io", "resiliencies.dapr.io", "subscriptions.dapr.io")
# CPU autoscaling on for the request-driven apps; the subscribers keep 2 replicas until the KEDA test.
INSTALL_VALUES = [
    "--set",
    "image.repository=registry.example/dapr-shop",
    "--set",
    "image.tag=test",
    "--set",
    "ingress.enabled=true",
    *[arg for app in sorted(REQUEST_DRIVEN) for arg in ("--set", f"apps.{app}.autoscaling.enabled=true")],
]
SECRET_KEYS = ["jwt-signing-key", "admin-email", "admin-password"] + [
    f"{svc}-db-password" for svc in ("auth", "customers", "products", "orders", "notifications")
]


def kubectl_create_secret(cluster: ControlPlane, name: str, values: dict[str, str]) -> None:
    literals = [f"--from-literal={key}={value}" for key, value in values.items()]
    cluster.kubectl("create", "secret", "generic", name, "-n", NAMESPACE, *literals)


@pytest.fixture(scope="module")
def shop(cluster: ControlPlane) -> Iterator[ControlPlane]:
    """A namespace enforcing the restricted standard, the Secrets deploy/README.md says to create."""
    cluster.apply(f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
""")
    for key in SECRET_KEYS:
        kubectl_create_secret(cluster, key, {key: secrets.token_urlsafe(16)})
    for app in sorted(APP_IDS):
        for token in ("dapr", "app"):
            name = f"dapr-shop-{app}-{token}-api-token"
            kubectl_create_secret(cluster, name, {"token": secrets.token_urlsafe(24)})
    kubectl_create_secret(
        cluster,
        "dapr-shop-connections",
        {
            "rabbitmq-url": "amqp://shop:pw@rabbitmq:5672",
            "redis-host": "redis:6379",
            "mongo-url": "mongodb://mongodb:27017",
        },
    )
    BEFORE_INSTALL.update(namespace_objects(cluster))
    yield cluster


BEFORE_INSTALL: set[str] = set()


def namespace_objects(cluster: ControlPlane) -> set[str]:
    """Every object in the namespace, of every kind that can be listed (events aside)."""
    kinds = cluster.kubectl("api-resources", "--namespaced", "--verbs=list", "-o", "name").stdout.split()
    kinds = [k for k in kinds if not k.startswith("events")]
    return set(cluster.kubectl("get", ",".join(kinds), "-n", NAMESPACE, "-o", "name").stdout.split())


def release_objects(cluster: ControlPlane) -> dict[tuple[str, str], dict[str, Any]]:
    """Every object of the release, by (kind, name), as the API server has it."""
    manifest = cluster.helm("get", "manifest", RELEASE, "-n", NAMESPACE).stdout
    live = json.loads(cluster.kubectl("get", "-n", NAMESPACE, "-o", "json", "-f", "-", input=manifest).stdout)
    return {(item["kind"], item["metadata"]["name"]): item for item in live["items"]}


def warnings(cluster: ControlPlane) -> list[str]:
    """The namespace's warning events, one line each (why a Pod was refused, for instance)."""
    events = cluster.get("events", "-n", NAMESPACE, "--field-selector=type=Warning")["items"]
    return sorted({f"{e['involvedObject']['name']}: {e['reason']}: {e['message']}" for e in events})


def desired(obj: dict[str, Any]) -> dict[str, Any]:
    """What an object asks for: everything but its status and the metadata the server keeps."""
    kept = {key: value for key, value in obj.items() if key not in ("metadata", "status")}
    return {**kept, "generation": obj["metadata"].get("generation"), "labels": obj["metadata"].get("labels")}


def app_pods(cluster: ControlPlane) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=app"
    return cluster.get("pods", "-n", NAMESPACE, "-l", selector)["items"]


def test_bad_values_are_refused_by_helm_install_with_a_clear_message(shop: ControlPlane) -> None:
    for values, message in (
        (["--set", "broker=zeromq"], "broker"),
        (["--set-string", "apps.orders.replicas=two"], "replicas"),
    ):
        result = shop.helm("install", "bad", CHART, "-n", NAMESPACE, *values)
        assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "bad" not in shop.helm("list", "-n", NAMESPACE, "-q").stdout


def test_the_namespace_enforces_the_restricted_pod_security_standard(shop: ControlPlane) -> None:
    # A Pod with no security context at all (root allowed, privilege escalation allowed...).
    plain = shop.kubectl("run", "plain", "-n", NAMESPACE, "--image=busybox", "--dry-run=server", check=False)
    assert plain.returncode != 0 and 'violates PodSecurity "restricted:latest"' in plain.stderr, plain.stderr


def test_helm_install_waits_until_every_app_is_available(shop: ControlPlane) -> None:
    result = shop.helm(
        "install", RELEASE, CHART, "-n", NAMESPACE, *INSTALL_VALUES, "--wait", "--timeout", "3m"
    )
    # A refused Pod shows only as a ReplicaSet's FailedCreate event: say why, not just "0/2".
    assert result.returncode == 0, result.stderr + "\n".join(warnings(shop))
    deployments = shop.get("deployments", "-n", NAMESPACE)["items"]
    assert {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in deployments} == APP_IDS
    for deployment in deployments:
        status = deployment["status"]
        assert status.get("availableReplicas") == deployment["spec"]["replicas"] >= 1, deployment["metadata"][
            "name"
        ]


def test_every_pod_was_admitted_scheduled_and_given_its_sidecar(shop: ControlPlane) -> None:
    # Two replicas each: set by the chart for the subscribers, by the HPA's minimum for the rest.
    wait_until(lambda: len(app_pods(shop)) == 2 * len(APP_IDS), timeout=60, what="two Pods per app")
    pods = app_pods(shop)
    policy = shop.get("networkpolicy", "shop-dapr-shop-orders", "-n", NAMESPACE)
    policy_ports = [port["port"] for port in policy["spec"]["ingress"][0]["ports"]]
    for pod in pods:
        name, notes = pod["metadata"]["name"], pod["metadata"]["annotations"]
        assert pod["spec"]["nodeName"] in NODES, f"{name} was not scheduled"
        assert pod["status"]["phase"] == "Running", name
        containers = {c["name"]: c for c in pod["spec"]["containers"]}
        assert set(containers) == {"app", "daprd"}, f"{name}: Dapr's injector did not add daprd"
        daprd = containers["daprd"]
        args = dict(zip(daprd["args"], daprd["args"][1:], strict=False))
        assert args["--app-id"] == notes["dapr.io/app-id"]
        assert args["--app-port"] == notes["dapr.io/app-port"]
        assert args["--config"] == f"shop-{notes['dapr.io/app-id']}"
        # The ports the chart's NetworkPolicies open: sidecar-to-sidecar gRPC, metrics.
        assert (args["--dapr-internal-grpc-port"], args["--metrics-port"]) == (str(policy_ports[0]), "9090")
        assert args["--control-plane-address"].startswith("dapr-api.dapr-system.svc")
        env = {e["name"]: e for e in daprd["env"]}
        # The app's own tokens: no two apps share one.
        app = notes["dapr.io/app-id"]
        assert env["DAPR_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == f"dapr-shop-{app}-dapr-api-token"
        assert env["APP_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == f"dapr-shop-{app}-app-api-token"
        # mTLS: the sidecar gets Sentry's trust anchors and asks Sentry for its certificate.
        assert "--enable-mtls" in daprd["args"]
        assert "BEGIN CERTIFICATE" in env["DAPR_TRUST_ANCHORS"]["value"]
        assert args["--sentry-address"].startswith("dapr-sentry.dapr-system.svc")
        # The injected container passes the restricted standard too (the admission just proved it).
        assert daprd["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert daprd["securityContext"]["readOnlyRootFilesystem"] is True
    for app in APP_IDS:
        nodes = {
            p["spec"]["nodeName"] for p in pods if p["metadata"]["labels"]["app.kubernetes.io/name"] == app
        }
        assert len(nodes) == 2, f"{app}'s replicas share a node: topology spread not applied"


def test_every_dapr_resource_was_accepted(shop: ControlPlane) -> None:
    objects = release_objects(shop)
    accepted = {
        (item["kind"], item["metadata"]["name"])
        for kind in DAPR_KINDS
        for item in shop.get(kind, "-n", NAMESPACE)["items"]
    }
    rendered = {
        key for key in objects if key[0] in ("Component", "Configuration", "Resiliency", "Subscription")
    }
    assert accepted == rendered
    assert len([key for key in accepted if key[0] == "Subscription"]) == 6
    assert objects[("Component", "pubsub")]["spec"]["type"] == "pubsub.rabbitmq"


def test_daprs_operator_gave_every_app_the_service_its_sidecars_are_found_by(shop: ControlPlane) -> None:
    def services() -> set[str]:
        return {s["metadata"]["name"] for s in shop.get("services", "-n", NAMESPACE)["items"]}

    wanted = {f"{app}-dapr" for app in APP_IDS}
    wait_until(lambda: wanted <= services(), timeout=60, what=f"Dapr's operator creating {sorted(wanted)}")
    # And no Service of the chart's own but the two public ones.
    assert services() - wanted == {"shop-dapr-shop-gateway", "shop-dapr-shop-notifications"}


def test_the_request_driven_apps_have_cpu_autoscalers(shop: ControlPlane) -> None:
    hpas = shop.get("hpa", "-n", NAMESPACE)["items"]
    assert {
        h["spec"]["scaleTargetRef"]["name"].removeprefix("shop-dapr-shop-") for h in hpas
    } == REQUEST_DRIVEN
    for hpa in hpas:
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_upgrading_to_another_broker_changes_only_the_pubsub_component(shop: ControlPlane) -> None:
    before = release_objects(shop)
    pods_before = {p["metadata"]["uid"] for p in app_pods(shop)}
    result = shop.helm(
        "upgrade", RELEASE, CHART, "-n", NAMESPACE, "--reuse-values", "--set", "broker=redis", "--wait"
    )
    assert result.returncode == 0, result.stderr
    after = release_objects(shop)
    assert before.keys() == after.keys()
    changed = {key for key in before if desired(before[key]) != desired(after[key])}
    assert changed == {("Component", "pubsub")}
    assert after[("Component", "pubsub")]["spec"]["type"] == "pubsub.redis"
    assert {p["metadata"]["uid"] for p in app_pods(shop)} == pods_before, "no Pod was replaced"


def test_the_subscribers_scale_on_their_queues_with_keda(shop: ControlPlane) -> None:
    result = shop.helm(
        "upgrade",
        RELEASE,
        CHART,
        "-n",
        NAMESPACE,
        "--reuse-values",
        "--set",
        "broker=rabbitmq",
        "--set",
        "apps.order-view.autoscaling.enabled=true",
        "--set",
        "apps.notifications.autoscaling.enabled=true",
        "--wait",
    )
    assert result.returncode == 0, result.stderr
    scaled = {s["metadata"]["name"]: s for s in shop.get("scaledobjects.keda.sh", "-n", NAMESPACE)["items"]}
    assert set(scaled) == {"shop-dapr-shop-order-view", "shop-dapr-shop-notifications"}
    queues = {t["metadata"]["queueName"] for s in scaled.values() for t in s["spec"]["triggers"]}
    assert queues == {
        "order-view-orders",
        "order-view-customers",
        "order-view-products",
        "notifications-orders",
    }
    assert shop.get("triggerauthentications.keda.sh", "-n", NAMESPACE)["items"]


def test_a_rollback_returns_to_the_installed_revision(shop: ControlPlane) -> None:
    result = shop.helm("rollback", RELEASE, "1", "-n", NAMESPACE, "--wait")
    assert result.returncode == 0, result.stderr
    assert not shop.get("scaledobjects.keda.sh", "-n", NAMESPACE)["items"]
    assert shop.get("component", "pubsub", "-n", NAMESPACE)["spec"]["type"] == "pubsub.rabbitmq"


def test_helm_uninstall_leaves_nothing_behind(shop: ControlPlane) -> None:
    result = shop.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    assert result.returncode == 0, result.stderr
    # What remains is what was there before the install: the Secrets made beside the chart.
    wait_until(
        lambda: namespace_objects(shop) == BEFORE_INSTALL,
        timeout=60,
        what="the namespace holding only what it held before the install (Pods included)",
    )


def test_the_dev_profile_installs_under_the_restricted_standard_too(cluster: ControlPlane) -> None:
    """RabbitMQ, MariaDB, MongoDB, Redis and the provisioning Job, in a namespace of their own."""
    cluster.apply(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop-dev\n  labels:\n"
        "    pod-security.kubernetes.io/enforce: restricted\n"
    )
    result = cluster.helm("install", "dev", CHART, "-n", "shop-dev", "--set", "dev.enabled=true", "--wait")
    assert result.returncode == 0, result.stderr
    pods = cluster.get("pods", "-n", "shop-dev", "-l", "app.kubernetes.io/component=dev-infrastructure")[
        "items"
    ]
    assert {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in pods} == {
        "rabbitmq", "mariadb", "mongodb", "redis"
    }  # fmt: skip
    wait_until(
        lambda: cluster.get("job", "dev-dapr-shop-dev-provision", "-n", "shop-dev")["status"].get(
            "succeeded"
        ),
        timeout=60,
        what="the provisioning Job's Pod admitted and (as KWOK reports it) completed",
    )
    assert cluster.helm("uninstall", "dev", "-n", "shop-dev", "--wait").returncode == 0
