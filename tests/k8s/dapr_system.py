"""Dapr's control plane on the test cluster: Sentry, the sidecar injector and the operator.

Run as Dapr's Helm chart runs them (namespace dapr-system, the trust bundle Sentry fills, the
daprsystem Configuration with mTLS on, the injector registered as a mutating webhook), as plain
processes on 127.0.0.1. Each control-plane service proves who it is to Sentry with a token bound
to a stand-in Pod (KWOK reports it running), as its real Pod would.
"""

from __future__ import annotations

import base64
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from harness.waiting import wait_until

if TYPE_CHECKING:
    from tests.k8s.cluster import ControlPlane

SENTRY_PORT, SENTRY_HEALTHZ_PORT = 15010, 15011
INJECTOR_PORT, INJECTOR_HEALTHZ_PORT = 15020, 15021
OPERATOR_PORT, OPERATOR_HEALTHZ_PORT, OPERATOR_WEBHOOK_PORT = 15030, 15031, 15032
# The injector's serving certificate (signed by Sentry) names only this DNS name, so the API
# server must reach the webhook by it: a hosts entry points it at 127.0.0.1 while the test runs.
INJECTOR_HOST = "dapr-sidecar-injector.dapr-system.svc"
HOSTS_FILE = Path("/etc/hosts")
HOSTS_LINE = f"127.0.0.1 {INJECTOR_HOST}  # dapr-shop make test-k8s, removed when it ends"
SIDECAR_IMAGE = "daprio/daprd"


def start(cluster: ControlPlane) -> None:
    """Sentry (Dapr's CA), the injector and the operator, set up as Dapr's Helm chart does."""
    cluster.apply(DAPR_SYSTEM.replace("SENTRY_ADDRESS", f"127.0.0.1:{SENTRY_PORT}"))
    start_sentry(cluster)
    start_injector(cluster)
    start_operator(cluster)


def healthy(cluster: ControlPlane, name: str, port: int) -> bool:
    """Its healthz answers 200 (a process that exited fails the wait at once)."""
    cluster.alive(name)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
        return response.status == 200


def control_plane_token(cluster: ControlPlane, service: str) -> Path:
    """A token for Sentry, bound to the stand-in Pod of a control-plane service.

    Sentry signs a control-plane certificate only for a caller whose token is bound to a Pod
    annotated `dapr.io/control-plane: <service>` running as `dapr-<service>`.
    """
    pod = f"dapr-{service}"
    wait_until(
        lambda: cluster.get("pod", pod, "-n", "dapr-system")["status"].get("phase") == "Running",
        timeout=60,
        what=f"the {service}'s stand-in Pod running on a KWOK node",
    )
    token = cluster.kubectl(
        "create", "token", f"dapr-{service}", "-n", "dapr-system", "--bound-object-kind=Pod",
        f"--bound-object-name={pod}", "--audience=dapr.io/sentry", "--duration=2h",
    ).stdout.strip()  # fmt: skip
    path = cluster.dir / "certs" / f"{service}.token"
    path.write_text(token)
    return path


def start_sentry(cluster: ControlPlane) -> None:
    certs = cluster.dir / "certs"
    (certs / "sentry").mkdir()
    cluster.spawn(
        "dapr-sentry",
        [
            str(cluster.bin / "dapr-sentry"),
            "--mode=kubernetes",
            f"--kubeconfig={cluster.kubeconfig}",
            "--config=daprsystem",
            "--trust-domain=cluster.local",
            f"--issuer-credentials={certs / 'sentry'}",
            f"--port={SENTRY_PORT}",
            "--listen-address=127.0.0.1",
            f"--healthz-port={SENTRY_HEALTHZ_PORT}",
            "--healthz-listen-address=127.0.0.1",
            "--enable-metrics=false",
        ],
        env={"NAMESPACE": "dapr-system", "DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK": "true"},
    )
    bundle = wait_until(
        lambda: (
            cluster.alive("dapr-sentry")
            and cluster.get("configmap", "dapr-trust-bundle", "-n", "dapr-system")
            .get("data", {})
            .get("ca.crt")
        ),
        timeout=60,
        what="Sentry writing the trust bundle (ConfigMap dapr-system/dapr-trust-bundle)",
    )
    (certs / "ca.crt").write_text(bundle)


def start_injector(cluster: ControlPlane) -> None:
    certs = cluster.dir / "certs"
    ca_bundle = base64.b64encode((certs / "ca.crt").read_bytes()).decode()
    cluster.apply(WEBHOOK.replace("PORT", str(INJECTOR_PORT)).replace("CA_BUNDLE", ca_bundle))
    token = control_plane_token(cluster, "sidecar-injector")
    add_hosts_entry()
    cluster.spawn(
        "dapr-injector",
        [
            str(cluster.bin / "dapr-injector"),
            f"--kubeconfig={cluster.kubeconfig}",
            f"--port={INJECTOR_PORT}",
            "--listen-address=127.0.0.1",
            f"--healthz-port={INJECTOR_HEALTHZ_PORT}",
            "--healthz-listen-address=127.0.0.1",
            "--enable-metrics=false",
        ],
        env={
            "NAMESPACE": "dapr-system",
            "KUBE_CLUSTER_DOMAIN": "cluster.local",
            "SIDECAR_IMAGE": f"{SIDECAR_IMAGE}:{cluster.env['DAPR_VERSION']}",
            "DAPR_TRUST_ANCHORS_FILE": str(certs / "ca.crt"),
            "DAPR_CONTROL_PLANE_TRUST_DOMAIN": "cluster.local",
            "DAPR_SENTRY_ADDRESS": f"127.0.0.1:{SENTRY_PORT}",
            "DAPR_SENTRY_TOKEN_FILE": str(token),
            # What Dapr's chart sets with dapr_sidecar_injector.sidecarDropALLCapabilities=true:
            # without it the sidecar fails the restricted Pod Security Standard.
            "SIDECAR_DROP_ALL_CAPABILITIES": "true",
            "DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK": "true",
        },
    )
    wait_until(
        lambda: healthy(cluster, "dapr-injector", INJECTOR_HEALTHZ_PORT),
        timeout=60,
        what="Dapr's injector healthy (certificate from Sentry, webhook CA bundle patched)",
    )


def start_operator(cluster: ControlPlane) -> None:
    """The operator makes each Dapr app's `<app-id>-dapr` Service (sidecars find each other by it)."""
    certs = cluster.dir / "certs"
    token = control_plane_token(cluster, "operator")
    cluster.spawn(
        "dapr-operator",
        [
            str(cluster.bin / "dapr-operator"),
            f"--kubeconfig={cluster.kubeconfig}",
            "--config=daprsystem",
            f"--trust-anchors-file={certs / 'ca.crt'}",
            f"--port={OPERATOR_PORT}",
            "--listen-address=127.0.0.1",
            f"--healthz-port={OPERATOR_HEALTHZ_PORT}",
            "--healthz-listen-address=127.0.0.1",
            f"--webhook-server-port={OPERATOR_WEBHOOK_PORT}",
            "--webhook-server-listen-address=127.0.0.1",
            "--disable-leader-election",
            "--enable-metrics=false",
        ],
        env={
            "NAMESPACE": "dapr-system",
            "DAPR_SENTRY_TOKEN_FILE": str(token),
            "DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK": "true",
        },
    )
    wait_until(
        lambda: healthy(cluster, "dapr-operator", OPERATOR_HEALTHZ_PORT),
        timeout=60,
        what="Dapr's operator healthy (certificate from Sentry)",
    )


def add_hosts_entry() -> None:
    text = HOSTS_FILE.read_text()
    if HOSTS_LINE in text:
        return
    try:
        # Written in place: /etc/hosts may be a bind mount, which a rename would not replace.
        HOSTS_FILE.write_text(text.rstrip("\n") + "\n" + HOSTS_LINE + "\n")
    except PermissionError as exc:
        raise AssertionError(
            f"make test-k8s adds one line to {HOSTS_FILE} while it runs ({HOSTS_LINE!r}), "
            "and cannot write it: run it as root, or with write access to that file"
        ) from exc


def remove_hosts_entry() -> None:
    """Removes this test's line (left by this run, or by a run that was killed), nothing else."""
    lines = HOSTS_FILE.read_text().splitlines(keepends=True)
    if any(line.rstrip("\n") == HOSTS_LINE for line in lines):
        HOSTS_FILE.write_text("".join(line for line in lines if line.rstrip("\n") != HOSTS_LINE))


# What Dapr's Helm chart creates in dapr-system before its control plane starts: the trust
# bundle Sentry fills, the control plane's Configuration (mTLS on, Dapr's default), the
# injector's ServiceAccount, and a Pod standing in for the injector's own (Sentry checks that the
# caller's token is bound to a Pod of the control plane).
DAPR_SYSTEM = """
apiVersion: v1
kind: Namespace
metadata: {name: dapr-system}
---
apiVersion: v1
kind: Secret
metadata: {name: dapr-trust-bundle, namespace: dapr-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dapr-trust-bundle, namespace: dapr-system}
---
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: daprsystem, namespace: dapr-system}
spec:
  mtls:
    enabled: true
    workloadCertTTL: 24h
    allowedClockSkew: 15m
    controlPlaneTrustDomain: cluster.local
    # Where the operator reaches Sentry (sidecars are told the Service's name by the injector).
    sentryAddress: SENTRY_ADDRESS
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: dapr-sidecar-injector, namespace: dapr-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: dapr-operator, namespace: dapr-system}
---
apiVersion: v1
kind: Pod
metadata:
  name: dapr-sidecar-injector
  namespace: dapr-system
  annotations: {dapr.io/control-plane: injector}
spec:
  serviceAccountName: dapr-sidecar-injector
  containers: [{name: dapr-sidecar-injector, image: "daprio/injector"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: dapr-operator
  namespace: dapr-system
  annotations: {dapr.io/control-plane: operator}
spec:
  serviceAccountName: dapr-operator
  containers: [{name: dapr-operator, image: "daprio/operator"}]
"""

# Dapr's chart registers the injector by Service; the API server here cannot route to a
# Service's cluster IP, so by URL, with the DNS name its certificate holds. Failure is refused
# (Dapr's chart says Ignore): a Pod without its sidecar must fail the test, not slip through.
WEBHOOK = f"""
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: dapr-sidecar-injector}}
webhooks:
  - name: sidecar-injector.dapr.io
    reinvocationPolicy: IfNeeded
    clientConfig:
      url: https://{INJECTOR_HOST}:PORT/mutate
      caBundle: CA_BUNDLE
    rules:
      - {{apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE]}}
    failurePolicy: Fail
    sideEffects: None
    admissionReviewVersions: [v1]
    namespaceSelector:
      matchExpressions:
        - {{key: kubernetes.io/metadata.name, operator: NotIn, values: [dapr-system, kube-system]}}
"""
