"""dapr.yaml, docker-compose.yml and components/ describe the same system (Docker can't run here,
so these checks are what keeps docker-compose.yml honest)."""

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_IDS = {"gateway", "auth", "customers", "products", "orders", "order-view", "notifications"}


def load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_dapr_yaml_runs_exactly_the_seven_apps_with_health_checks() -> None:
    run = load("dapr.yaml")

    assert {app["appID"] for app in run["apps"]} == APP_IDS
    assert run["common"]["enableAppHealthCheck"] is True
    ports = [
        app[key] for app in run["apps"] for key in ("appPort", "daprHTTPPort", "daprGRPCPort", "metricsPort")
    ]
    assert len(ports) == len(set(ports))
    assert all(port < 32768 for port in ports), "fixed ports must stay out of the ephemeral range"


def test_every_app_in_dapr_yaml_has_a_compose_service_and_a_sidecar_with_the_same_app_id() -> None:
    compose = load("docker-compose.yml")["services"]
    for app in load("dapr.yaml")["apps"]:
        app_id = app["appID"]
        assert app_id in compose, f"no compose service for {app_id}"
        sidecar = compose[f"{app_id}-dapr"]
        assert sidecar["network_mode"] == f"service:{app_id}"
        assert flag(sidecar["command"], "--app-id") == app_id
        assert flag(sidecar["command"], "--app-port") == str(app["appPort"])
        assert compose[app_id]["environment"]["APP_PORT"] == str(app["appPort"])


def test_each_compose_app_and_its_sidecar_share_a_token_file_no_other_app_reads() -> None:
    compose = load("docker-compose.yml")["services"]
    for app_id in APP_IDS:
        own = f".run/api-tokens/{app_id}.env"  # scripts/gen_secrets.py
        # The sidecar's own broker user and the trust root come after (scripts/compose_files.py).
        sidecars = [own, f".run/compose/sidecars/{app_id}.env"]
        assert (compose[app_id]["env_file"], compose[f"{app_id}-dapr"]["env_file"]) == (own, sidecars), app_id
    readers = [name for name, service in compose.items() if "env_file" in service]
    assert len(readers) == 2 * len(APP_IDS)


def test_every_compose_sidecar_runs_mtls_through_sentry_with_its_own_configuration() -> None:
    compose = load("docker-compose.yml")["services"]
    secrets = compose["secrets"]["command"][-1]
    for app_id in APP_IDS:
        command = compose[f"{app_id}-dapr"]["command"]
        assert "--enable-mtls" in command, app_id
        assert flag(command, "--sentry-address") == "sentry:50001"
        # Its own Configuration (access control, secrets), which the `secrets` service copies
        # into the `run` volume from .run/compose/config/.
        assert flag(command, "--config") == f"/shop/.run/config/{app_id}.yaml"
        assert "sentry" in compose[f"{app_id}-dapr"]["depends_on"]
        # Its RabbitMQ user is its own, from its env file: nothing in the file overrides it.
        assert "SHOP_RABBITMQ_URL" not in compose[f"{app_id}-dapr"]["environment"]
    assert "-m 0444 -D -t /shop/.run/config /host-run/compose/config/*.yaml" in secrets
    # Sentry's issuer key: for Sentry's uid only, in a volume no other long-running service mounts.
    assert "install -o 65532 -g 65532 -m 0400 -t /sentry /host-run/sentry/issuer.key" in secrets
    mounts = {name: service.get("volumes", []) for name, service in compose.items()}
    assert {name for name, volumes in mounts.items() if any(v.startswith("sentry:") for v in volumes)} == {
        "sentry",
        "secrets",
    }


def test_compose_sentry_is_the_upstream_image_of_the_runtimes_version_with_make_runs_flags() -> None:
    sentry = load("docker-compose.yml")["services"]["sentry"]
    versions = dict(
        line.split("=", 1) for line in (ROOT / "scripts/versions.sh").read_text().splitlines() if "=" in line
    )
    infra = (ROOT / "scripts/infra.sh").read_text()

    assert sentry["image"] == f"daprio/sentry:{versions['DAPR_VERSION']}"
    assert flag(sentry["command"], "--mode") == "standalone"
    assert flag(sentry["command"], "--port") == "50001"
    assert f"--trust-domain {flag(sentry['command'], '--trust-domain')} --port 50001" in infra


def test_the_compose_scheduler_serves_mtls_with_a_certificate_from_sentry_for_the_same_root() -> None:
    compose = load("docker-compose.yml")["services"]
    scheduler = compose["scheduler"]

    assert "--tls-enabled" in scheduler["command"]
    assert flag(scheduler["command"], "--sentry-address") == "sentry:50001"
    anchors = flag(scheduler["command"], "--trust-anchors-file")
    assert f"trust-anchors:{anchors.rsplit('/', 1)[0]}:ro" in scheduler["volumes"]
    assert "install -m 0444 -t /trust /host-run/sentry/ca.crt" in compose["secrets"]["command"][-1]
    assert "trust-anchors:/trust" in compose["secrets"]["volumes"]


def test_compose_rabbitmq_loads_the_definitions_the_secrets_service_hands_it_and_no_one_is_guest() -> None:
    compose = load("docker-compose.yml")["services"]
    rabbitmq = compose["rabbitmq"]
    conf = "./components/compose/rabbitmq-users.conf:/etc/rabbitmq/conf.d/30-shop-users.conf:ro"
    settings = dict(
        line.split(" = ", 1) for line in (ROOT / conf.split(":")[0]).read_text().splitlines() if " = " in line
    )

    assert conf in rabbitmq["volumes"]
    assert "rabbitmq-users:/etc/rabbitmq/shop:ro" in rabbitmq["volumes"]
    assert settings["load_definitions"] == "/etc/rabbitmq/shop/definitions.json"
    assert "/rabbitmq/definitions.json" in compose["secrets"]["command"][-1]
    assert "rabbitmq-users:/rabbitmq" in compose["secrets"]["volumes"]
    environments = [service.get("environment") or {} for service in compose.values()]
    assert not [value for env in environments for value in env.values() if "guest" in str(value)]


def test_every_path_compose_mounts_exists_in_the_repository() -> None:
    compose = load("docker-compose.yml")["services"]
    for name, service in compose.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./.run") or not source.startswith("."):
                continue  # generated by setup (secrets), or a named volume
            assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_compose_sidecars_run_the_projects_patched_daprd_tagged_with_its_build() -> None:
    compose = load("docker-compose.yml")["services"]
    versions = dict(
        line.split("=", 1) for line in (ROOT / "scripts/versions.sh").read_text().splitlines() if "=" in line
    )
    tag = f"dapr-shop/daprd:{versions['DAPR_VERSION']}-{versions['DAPR_BUILD']}"
    images = {name: service.get("image", "") for name, service in compose.items()}
    assert {images[f"{app_id}-dapr"] for app_id in APP_IDS} == {tag}
    assert not [name for name, image in images.items() if image.startswith("daprio/daprd")]


def test_compose_sidecars_read_the_same_resources_as_dapr_run() -> None:
    compose = load("docker-compose.yml")["services"]
    common = load("dapr.yaml")["common"]
    sidecar = compose["orders-dapr"]
    assert common["configFilePath"] == "./components/config.yaml"
    paths = [
        sidecar["command"][i + 1] for i, arg in enumerate(sidecar["command"]) if arg == "--resources-path"
    ]
    assert paths == ["/shop/components", "/shop/components/subscriptions", "/shop/broker"]


def test_the_compose_dapr_configuration_differs_from_the_local_one_only_in_where_spans_go() -> None:
    local, compose = load("components/config.yaml"), load("components/compose/config.yaml")
    assert local["spec"]["tracing"]["zipkin"]["endpointAddress"] == "http://127.0.0.1:9411/api/v2/spans"
    assert compose["spec"]["tracing"]["zipkin"]["endpointAddress"] == "http://zipkin:9411/api/v2/spans"
    assert "zipkin" in load("docker-compose.yml")["services"]
    for config in (local, compose):
        del config["spec"]["tracing"]["zipkin"]
    assert local == compose


def components() -> list[tuple[Path, dict[str, Any]]]:
    files = [
        *ROOT.glob("components/*.yaml"),
        *ROOT.glob("components/*/*.yaml"),
        *ROOT.glob("components/brokers/*/*.yaml"),
    ]
    return [(path, doc) for path in sorted(set(files)) for doc in load_all(path)]


def metadata(doc: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("envRef")) for item in doc["spec"].get("metadata", [])}


def test_each_broker_is_a_drop_in_pubsub_component_named_pubsub() -> None:
    brokers = sorted(p.name for p in (ROOT / "components/brokers").iterdir())
    assert {"rabbitmq", "redis", "mqtt"} <= set(brokers)
    for broker in brokers:
        docs = load_all(ROOT / f"components/brokers/{broker}/pubsub.yaml")
        assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("Component", "pubsub")]
        assert docs[0]["spec"]["type"].startswith("pubsub.")


def test_the_rabbitmq_pubsub_is_configured_to_lose_nothing() -> None:
    settings = metadata(load("components/brokers/rabbitmq/pubsub.yaml"))

    assert settings["durable"] == "true"
    assert settings["deletedWhenUnused"] == "false"
    assert settings["deliveryMode"] == "2"
    assert settings["publisherConfirm"] == "true"
    assert settings["requeueInFailure"] == "true"
    assert settings["enableDeadLetter"] == "true"
    assert 0 < int(settings["prefetchCount"]) <= 100


def test_name_resolution_never_uses_mdns() -> None:
    config = load("components/config.yaml")
    assert config["spec"]["nameResolution"]["component"] == "sqlite"


@pytest.mark.parametrize(
    ("path", "doc"),
    [c for c in components() if c[1]["kind"] == "Subscription"],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_declarative_subscriptions_are_scoped_and_have_a_dead_letter_topic(
    path: Path, doc: dict[str, Any]
) -> None:
    assert doc["scopes"], f"{path.name}: {doc['metadata']['name']} has no scopes"
    assert set(doc["scopes"]) <= APP_IDS
    assert doc["spec"]["pubsubname"] == "pubsub"
    if doc["spec"]["topic"].endswith("-deadletters"):
        assert "deadLetterTopic" not in doc["spec"], "the dead-letter subscriber must not loop"
    else:
        # Each subscriber has its own dead-letter topic, so a replay knows whom to redeliver to.
        (subscriber,) = doc["scopes"]
        assert doc["spec"]["deadLetterTopic"] == f"{subscriber}-deadletters"


def scopes(value: str) -> dict[str, set[str]]:
    """`app=topic,topic;app=` as a dict of sets (an empty set: the app may use no topic)."""
    pairs = (entry.split("=", 1) for entry in value.split(";") if entry)
    return {app: {topic for topic in topics.split(",") if topic} for app, topics in pairs}


def test_every_broker_scopes_topics_the_same_way_and_names_every_app() -> None:
    brokers = sorted(str(path) for path in (ROOT / "components/brokers").glob("*/pubsub.yaml"))
    publishing = [scopes(metadata(load(path))["publishingScopes"]) for path in brokers]
    subscribing = [scopes(metadata(load(path))["subscriptionScopes"]) for path in brokers]
    assert all(scoped == publishing[0] for scoped in publishing), "publishingScopes differ between brokers"
    assert all(scoped == subscribing[0] for scoped in subscribing), "subscriptionScopes differ"
    # An app missing from the list could publish anywhere: every app must be named.
    assert set(publishing[0]) == set(subscribing[0]) == APP_IDS
    for owner in ("customers", "products", "orders"):
        assert [app for app, topics in publishing[0].items() if owner in topics] == [owner]


def test_subscriptions_fit_the_topic_scopes() -> None:
    rabbitmq = metadata(load("components/brokers/rabbitmq/pubsub.yaml"))
    allowed, publishing = scopes(rabbitmq["subscriptionScopes"]), scopes(rabbitmq["publishingScopes"])
    for _, doc in components():
        if doc["kind"] != "Subscription":
            continue
        for app in doc["scopes"]:
            assert doc["spec"]["topic"] in allowed[app], f"{app} may not subscribe to {doc['spec']['topic']}"
            if "deadLetterTopic" in doc["spec"]:  # its sidecar publishes the dead letters for it
                assert doc["spec"]["deadLetterTopic"] in publishing[app]


def test_secrets_come_from_the_secret_store_not_from_component_files() -> None:
    for path, doc in components():
        if doc["kind"] != "Component":
            continue
        for item in doc["spec"].get("metadata", []):
            if "password" in item["name"].lower():
                assert item.get("value", "") == "" or "secretKeyRef" in item, (
                    f"{path.name}: literal {item['name']}"
                )


def test_every_sidecar_gets_exactly_one_resiliency_policy_and_only_idempotent_callers_retry() -> None:
    files = {path: load_all(path) for path in sorted((ROOT / "components").glob("resiliency*.yaml"))}
    # Dapr loads one Resiliency per file (the first document): a second one would be ignored.
    assert all(len(docs) == 1 for docs in files.values()), "one Resiliency resource per file"
    policies = [doc for docs in files.values() for doc in docs]
    scoped = [app for policy in policies for app in policy["scopes"]]
    assert sorted(scoped) == sorted(APP_IDS), "each app-id in exactly one Resiliency resource"
    for policy in policies:
        targets = policy["spec"]["targets"]["apps"]
        retrying = {app for app, target in targets.items() if "retry" in target}
        if {"gateway", "auth"} & set(policy["scopes"]):
            assert not retrying, "the gateway and auth make non-idempotent calls: no retries"
        assert all(target["timeout"] and target["circuitBreaker"] for target in targets.values())
    subscribers = {"order-view", "notifications"}
    inbound = [p for p in policies if "pubsub" in p["spec"]["targets"].get("components", {})]
    assert subscribers <= {app for policy in inbound for app in policy["scopes"]}
