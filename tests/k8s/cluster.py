"""A real Kubernetes control plane on this machine, for installing the Helm chart into.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as plain processes; KWOK
plays three nodes (it marks scheduled Pods running and ready, no container ever starts); Dapr's
Sentry and sidecar injector run as Dapr's Helm chart would run them, the injector registered as
the mutating webhook it is. Everything listens on 127.0.0.1, on ports of its own (never etcd's
2379, which the Dapr scheduler of `make run` holds), so this runs beside the shop, no lock needed.
Binaries come from scripts/build-k8s.sh (`make test-k8s` builds them first).
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from harness.waiting import GiveUp, wait_until
from tests.k8s import dapr_system

ROOT = Path(__file__).resolve().parents[2]
ETCD_PORT, ETCD_PEER_PORT = 12379, 12380
APISERVER_PORT = 16443
NODES = ("kwok-node-a", "kwok-node-b", "kwok-node-c")


def versions() -> dict[str, str]:
    """scripts/versions.sh, as the build script sees it."""
    script = "source scripts/versions.sh && env | grep -E '^(K8S_|DAPR_VERSION|KEDA_VERSION)'"
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def module_dir(module: str, version: str) -> Path:
    """A module's directory in the Go module cache (already downloaded by the build script)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@v{version}"], capture_output=True, text=True
    )
    return Path(json.loads(out.stdout)["Dir"])


class ControlPlane:
    """Starts the processes in order, each waited for; stop() ends every one it started."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.env = versions()
        self.bin = Path(self.env["K8S_BIN"])
        self.helm_bin = Path(self.env["K8S_TOOLS"]) / "helm"
        self.kubeconfig = workdir / "kubeconfig"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        missing = [
            b for b in ("etcd", "kube-apiserver", "kwok", "dapr-injector") if not (self.bin / b).exists()
        ]
        assert not missing, f"{missing} not built: run 'make test-k8s' (it runs scripts/build-k8s.sh cluster)"

    # --- processes -------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.dir / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def alive(self, name: str) -> bool:
        process = self.processes[name]
        if process.poll() is not None:
            tail = (self.dir / f"{name}.log").read_text(errors="replace")[-1500:]
            raise GiveUp(f"{name} exited with {process.returncode}; end of {self.dir}/{name}.log:\n{tail}")
        return True

    def stop(self) -> None:
        """Each process group it started, newest first; then the hosts entry."""
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        dapr_system.remove_hosts_entry()

    # --- clients ---------------------------------------------------------------------------
    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
        )
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def apply(self, manifest: str) -> None:
        self.kubectl("apply", "--server-side", "-f", "-", input=manifest)

    def helm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.helm_bin), "--kubeconfig", str(self.kubeconfig), *args], capture_output=True, text=True
        )

    # --- start-up --------------------------------------------------------------------------
    def start(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "certs").mkdir(parents=True)
        # A run killed with SIGKILL may have left its hosts entry behind.
        dapr_system.remove_hosts_entry()
        self.start_etcd()
        self.start_apiserver()
        self.start_controllers()
        self.start_nodes()
        self.install_crds()
        dapr_system.start(self)

    def start_etcd(self) -> None:
        peer, client = f"http://127.0.0.1:{ETCD_PEER_PORT}", f"http://127.0.0.1:{ETCD_PORT}"
        self.spawn(
            "etcd",
            [
                str(self.bin / "etcd"),
                f"--data-dir={self.dir / 'etcd'}",
                "--name=default",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--log-level=warn",
            ],
        )
        wait_until(
            lambda: (
                self.alive("etcd") and urllib.request.urlopen(f"{client}/health", timeout=1).status == 200
            ),
            timeout=30,
            what=f"etcd answering on 127.0.0.1:{ETCD_PORT}",
        )

    def start_apiserver(self) -> None:
        certs = self.dir / "certs"
        subprocess.run(
            ["openssl", "genrsa", "-out", str(certs / "sa.key"), "2048"], check=True, capture_output=True
        )
        subprocess.run(
            ["openssl", "rsa", "-in", str(certs / "sa.key"), "-pubout", "-out", str(certs / "sa.pub")],
            check=True,
            capture_output=True,
        )
        token = base64.urlsafe_b64encode(os.urandom(24)).decode()
        (certs / "tokens.csv").write_text(f'{token},admin,admin-uid,"system:masters"\n')
        self.spawn(
            "kube-apiserver",
            [
                str(self.bin / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{ETCD_PORT}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={APISERVER_PORT}",
                f"--cert-dir={certs}",
                f"--token-auth-file={certs / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={certs / 'sa.pub'}",
                f"--service-account-signing-key-file={certs / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--endpoint-reconciler-type=none",
                "--enable-priority-and-fairness=false",
                # As on most clusters: Pod Security admission, not this flag, is what refuses them.
                "--allow-privileged=true",
            ],
        )
        ca = certs / "apiserver.crt"
        wait_until(
            lambda: self.alive("kube-apiserver") and ca.exists(),
            timeout=30,
            what="the API server's certificate",
        )
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "shop-test",
                    "clusters": [
                        {
                            "name": "local",
                            "cluster": {
                                "server": f"https://127.0.0.1:{APISERVER_PORT}",
                                "certificate-authority": str(ca),
                            },
                        }
                    ],
                    "users": [{"name": "admin", "user": {"token": token}}],
                    "contexts": [{"name": "shop-test", "context": {"cluster": "local", "user": "admin"}}],
                }
            )
        )
        wait_until(
            lambda: (
                self.alive("kube-apiserver")
                and self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0
            ),
            timeout=60,
            what=f"kube-apiserver ready on 127.0.0.1:{APISERVER_PORT}",
        )

    def start_controllers(self) -> None:
        certs = self.dir / "certs"
        # Controllers act as their own service accounts (kube-system:replicaset-controller...),
        # as on a real cluster: Dapr's injector admits Pods only from those.
        self.spawn(
            "kube-controller-manager",
            [
                str(self.bin / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                "--controllers=*",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={certs / 'sa.key'}",
                f"--root-ca-file={certs / 'apiserver.crt'}",
                "--leader-elect=false",
                "--secure-port=0",
            ],
        )
        self.spawn(
            "kube-scheduler",
            [
                str(self.bin / "kube-scheduler"),
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
            ],
        )
        wait_until(
            lambda: (
                self.alive("kube-controller-manager")
                and self.get("serviceaccount", "default", "-n", "default")
            ),
            timeout=60,
            what="kube-controller-manager creating the default ServiceAccount",
        )

    def start_nodes(self) -> None:
        self.spawn(
            "kwok",
            [
                str(self.bin / "kwok"),
                f"--kubeconfig={self.kubeconfig}",
                f"--config={self.bin / 'kwok-stages.yaml'}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--cidr=10.244.0.0/16",
                "--node-ip=127.0.0.1",
                "--server-address=",
            ],
        )
        for name in NODES:
            self.apply(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "metadata": {
                            "name": name,
                            "annotations": {"kwok.x-k8s.io/node": "fake"},
                            "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
                        },
                        "status": {
                            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                        },
                    }
                )
            )
        wait_until(
            lambda: (
                self.alive("kwok")
                and all(
                    any(
                        c["type"] == "Ready" and c["status"] == "True"
                        for c in node["status"].get("conditions", [])
                    )
                    for node in self.get("nodes")["items"]
                )
            ),
            timeout=60,
            what=f"KWOK reporting {len(NODES)} nodes Ready",
        )

    def install_crds(self) -> None:
        """Dapr's CRDs (as Dapr's chart installs them) and KEDA's (for the ScaledObjects)."""
        dapr = module_dir("github.com/dapr/dapr", self.env["DAPR_VERSION"]) / "charts/dapr/crds"
        keda = module_dir("github.com/kedacore/keda/v2", self.env["KEDA_VERSION"]) / "config/crd/bases"
        for directory in (dapr, keda):
            self.kubectl("apply", "--server-side", "-f", str(directory))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
