"""A real Kubernetes control plane for the tests: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
built from the Go module proxy by .ci/build-k8s-control-plane, started once per test session and always stopped
(by PID, with a kill after a grace).

Real: the API server (schema validation, RBAC, the admission plugins EKS runs, Pod Security admission), the
controllers (Deployments, ReplicaSets, Jobs, endpoints, the volume binder, garbage collection, namespace deletion)
and the scheduler. Simulated, openly:

- STAND-IN kubelet: kwok (sigs.k8s.io/kwok) with its own Stage documents gives the fake node a heartbeat and
  moves pods through their lifecycle (pod-ready: scheduled pods become Running and Ready, init containers
  done; pod-complete: pods of Jobs succeed; pod-delete: deleted pods go away). No container runs.
- STAND-IN AWS Load Balancer Controller (the Auto Mode ALB): ``StandInControllers`` writes a load balancer
  hostname into the status of an Ingress whose class is served by ``eks.amazonaws.com/alb``, as the controller
  does once the ALB exists. (A kwok Stage cannot do it here: kwok v0.8.0's discovery fails on the 1.34 and 1.35 API
  server's networking.k8s.io group, "converting (v1.APIGroup) to (v1.APIResourceList): unknown conversion".)
- STAND-IN EBS CSI driver (Auto Mode's ``ebs.csi.eks.amazonaws.com``): ``StandInControllers`` creates a
  PersistentVolume for a claim the scheduler selected a node for (WaitForFirstConsumer), as the external
  provisioner does, and deletes a released one (reclaim policy Delete); the controller-manager's volume binder
  binds them.
- NetworkPolicies are stored, not enforced (no CNI runs).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.paths import ROOT
from tests.support.standins.aws_controllers import alb_refusal, ebs_refusal

FAKE_NODE = "kwok-node-0"
#: The storage class and ingress classes the stand-in platform exports (what dev's add-ons create on EKS).
STORAGE_CLASS = "gp3-encrypted"
EBS_PROVISIONER = "ebs.csi.eks.amazonaws.com"

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(pki: Path) -> None:
    """A cluster CA, the API server's serving certificate (127.0.0.1 and the in-cluster names), client
    certificates for the admin (system:masters), the controller-manager and the scheduler, and the service
    account signing key."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl(pki, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=ghost-gitops-test-kubernetes-ca")
    (pki / "apiserver.ext").write_text(
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n")
    for name, subject, ext in (("apiserver", "/CN=kube-apiserver", "apiserver.ext"),
                               ("admin", "/O=system:masters/CN=ghost-gitops-test-admin", None),
                               ("controller-manager", "/CN=system:kube-controller-manager", None),
                               ("scheduler", "/CN=system:kube-scheduler", None)):
        _openssl(pki, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject)
        _openssl(pki, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", *(["-extfile", ext] if ext else []))
    _openssl(pki, "genrsa", "-out", "sa.key", "2048")
    _openssl(pki, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")


def kubeconfig(server: str, pki: Path, user: str) -> dict[str, Any]:
    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    return {"apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}],
            "users": [{"name": user, "user": {"client-certificate-data": b64(f"{user}.crt"),
                                              "client-key-data": b64(f"{user}.key")}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}]}


@dataclass
class Cluster:
    """A running control plane: its API address, an admin kubeconfig (file and JSON text) and its processes."""

    root: Path
    bin: Path
    server: str
    kubeconfig_path: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    provisioner: StandInControllers | None = None

    @property
    def kubeconfig_json(self) -> str:
        return json.dumps(json.loads(self.kubeconfig_path.read_text()))

    def kubectl(self, *args: str, check: bool = True, input_: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["kubectl", f"--kubeconfig={self.kubeconfig_path}", *args], capture_output=True,
                              text=True, timeout=120, check=False, input=input_)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr}")
        return proc

    def get(self, *args: str) -> Any:
        """``kubectl get ... -o json`` parsed; None when the object does not exist."""
        proc = self.kubectl("get", *args, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        return json.loads(proc.stdout)

    def client(self) -> httpx.Client:
        """The API as the admin, over verified TLS with the admin's client certificate."""
        pki = self.root / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return httpx.Client(base_url=self.server, verify=context, timeout=30)

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.provisioner is not None:
            self.provisioner.stop()
        for name in ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            proc = self.processes.get(name)
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # kube-apiserver may ignore SIGTERM for a while
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _start(cluster: Cluster, name: str, argv: list[str]) -> None:
    log = (cluster.root / f"{name}.log").open("ab")
    cluster.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               start_new_session=True)


def _wait(what: str, check: Any, timeout: float, cluster: Cluster, name: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, subprocess.SubprocessError, ValueError):
            pass
        proc = cluster.processes.get(name)
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{name} exited ({proc.returncode}) before {what}:\n{cluster.log(name)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f} s:\n{cluster.log(name)}")
        time.sleep(0.3)


def start_cluster(root: Path, install: Path) -> Cluster:
    """Start etcd, the API server, the controller-manager, the scheduler and kwok; create the fake node, the
    storage class, and wait until the node is Ready. Raises (after stopping what started) on failure."""
    bin_ = install / "bin"
    pki = root / "pki"
    make_pki(pki)
    port = free_port()
    server = f"https://127.0.0.1:{port}"
    for user in ("admin", "controller-manager", "scheduler"):
        (root / f"{user}.kubeconfig").write_text(json.dumps(kubeconfig(server, pki, user)))
    cluster = Cluster(root=root, bin=bin_, server=server, kubeconfig_path=root / "admin.kubeconfig")
    try:
        etcd_port, peer_port = free_port(), free_port()
        _start(cluster, "etcd", [str(bin_ / "etcd"), "--name=default", f"--data-dir={root / 'etcd'}",
                                 f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                                 f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                                 f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                                 f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                                 f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                                 "--quota-backend-bytes=1073741824", "--log-level=warn"])
        _wait("etcd answers", lambda: httpx.get(f"http://127.0.0.1:{etcd_port}/health", timeout=2).status_code == 200,
              60, cluster, "etcd")
        _start(cluster, "kube-apiserver", [
            str(bin_ / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            f"--secure-port={port}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=Node,RBAC",
            # what EKS enables on top of the defaults (PodSecurity, NamespaceLifecycle, ServiceAccount, ... are on)
            "--enable-admission-plugins=NodeRestriction,ExtendedResourceToleration",
            "--allow-privileged=true", "--profiling=false", "--v=0"])

        def api_ready() -> bool:
            with cluster.client() as c:
                return c.get("/readyz").status_code == 200

        _wait("the API server is ready", api_ready, 120, cluster, "kube-apiserver")
        _start(cluster, "kube-controller-manager", [
            str(bin_ / "kube-controller-manager"), f"--kubeconfig={root / 'controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={root / 'controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={root / 'controller-manager.kubeconfig'}",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
            "--use-service-account-credentials=true", "--leader-elect=false", "--bind-address=127.0.0.1",
            # kwok renews the fake node's lease; on a loaded 2-core machine a renewal can come late, and a node
            # marked NotReady makes every pod on it unready: a simulation artefact, so the grace is generous
            "--node-monitor-grace-period=10m",
            f"--secure-port={free_port()}", "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route",
            "--v=0"])
        _start(cluster, "kube-scheduler", [
            str(bin_ / "kube-scheduler"), f"--kubeconfig={root / 'scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={root / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={root / 'scheduler.kubeconfig'}",
            "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--v=0"])
        stages = sorted((install / "kwok-stages").glob("*.yaml"))
        _start(cluster, "kwok", [
            str(bin_ / "kwok"), f"--kubeconfig={cluster.kubeconfig_path}", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--cidr=10.244.0.1/16",
            "--node-ip=10.0.0.10", "--server-address=127.0.0.1:0",
            *[f"--config={s}" for s in stages]])
        # the controllers run once the service account controller made the default namespace's account
        _wait("the controller-manager runs", lambda: cluster.get("serviceaccount", "default", "-n", "default") is not None,
              90, cluster, "kube-controller-manager")
        _create_node(cluster)
        _wait("the fake node is Ready", lambda: _node_ready(cluster), 90, cluster, "kwok")
        cluster.kubectl("apply", "-f", "-", input_=json.dumps(_storage_class()))
        cluster.provisioner = StandInControllers(cluster)
        cluster.provisioner.start()
        return cluster
    except BaseException:
        cluster.stop()
        raise


def storage_class(name: str = STORAGE_CLASS) -> str:
    """A StorageClass like dev's (infra/addons.py), as a manifest for ``kubectl apply``."""
    return json.dumps(_storage_class(name))


def _create_node(cluster: Cluster) -> None:
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": FAKE_NODE, "annotations": {"kwok.x-k8s.io/node": "fake",
                                                              "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"kubernetes.io/hostname": FAKE_NODE, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok",
                                    "topology.kubernetes.io/region": "us-east-1",
                                    "topology.kubernetes.io/zone": "us-east-1a"}},
            "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                       "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}}}
    cluster.kubectl("apply", "-f", "-", input_=json.dumps(node))


def _node_ready(cluster: Cluster) -> bool:
    node = cluster.get("node", FAKE_NODE)
    return bool(node) and any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def _storage_class(name: str = STORAGE_CLASS) -> dict[str, Any]:
    """What dev's add-ons create on EKS Auto Mode (infra/addons.py): encrypted gp3 through the Auto Mode EBS driver."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
            "provisioner": EBS_PROVISIONER, "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": True,
            "reclaimPolicy": "Delete", "parameters": {"type": "gp3", "encrypted": "true"}}


#: the ingress controller the ALB stand-in serves (EKS Auto Mode's load balancing)
ALB_CONTROLLER = "eks.amazonaws.com/alb"


class StandInControllers:
    """STAND-INS for two AWS controllers, polling the API every half second:

    - the EBS CSI driver's external provisioner: for each claim of a class it serves that the scheduler selected
      a node for, a PersistentVolume of the claim's size, bound to it by claimRef (the controller-manager's binder
      completes the binding); a released volume of reclaim policy Delete is deleted. No data, no attach.
    - the AWS Load Balancer Controller: an Ingress whose IngressClass names ``eks.amazonaws.com/alb`` gets the
      hostname of its (imaginary) ALB in its status, once. No listener, no target group, no traffic.

    Neither is kinder than AWS: what the real controller refuses (tests/support/standins/aws_controllers.py: a claim EBS
    cannot serve, an Ingress the ALB controller cannot build) gets a Warning Event and stays as it is.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stand-in-aws-controllers", daemon=True)
        self.created: list[str] = []
        #: (kind, namespace/name, message) of every refusal, in order; tests read it and the Events
        self.refusals: list[tuple[str, str, str]] = []
        self._refused: set[str] = set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                with self.cluster.client() as c:
                    self._pass(c)
            except (httpx.HTTPError, KeyError, ValueError):
                continue

    def _pass(self, c: httpx.Client) -> None:
        self._load_balancers(c)
        self._volumes(c)

    def _refuse(self, c: httpx.Client, obj: dict[str, Any], reason: str, message: str, component: str) -> None:
        """A Warning Event on the object, once per version of it, as the real controller reports a refusal."""
        meta = obj["metadata"]
        key = f"{meta['uid']}:{meta.get('resourceVersion')}"
        if key in self._refused:
            return
        self._refused.add(key)
        self.refusals.append((obj["kind"], f"{meta.get('namespace')}/{meta['name']}", message))
        c.post(f"/api/v1/namespaces/{meta['namespace']}/events", json={
            "apiVersion": "v1", "kind": "Event", "metadata": {"generateName": f"{meta['name']}."},
            "involvedObject": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": meta["namespace"],
                               "name": meta["name"], "uid": meta["uid"]},
            "reason": reason, "message": message, "type": "Warning", "source": {"component": component}})

    def _load_balancers(self, c: httpx.Client) -> None:
        alb = {ic["metadata"]["name"] for ic in c.get("/apis/networking.k8s.io/v1/ingressclasses").json()["items"]
               if ic["spec"].get("controller") == ALB_CONTROLLER}
        for ing in c.get("/apis/networking.k8s.io/v1/ingresses").json()["items"]:
            meta = ing["metadata"]
            if ing["spec"].get("ingressClassName") not in alb or ing.get("status", {}).get("loadBalancer", {}).get("ingress"):
                continue
            services = {s["metadata"]["name"]: s for s in
                        c.get(f"/api/v1/namespaces/{meta['namespace']}/services").json()["items"]}
            refusal = alb_refusal(ing, services)
            if refusal is not None:
                self._refuse(c, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", **ing}, "FailedBuildModel",
                             f"Failed build model due to {refusal}", "stand-in-alb-controller")
                continue
            hostname = f"k8s-{meta['namespace']}-{meta['name']}.stand-in-alb.us-east-1.elb.amazonaws.com"
            ing["status"] = {"loadBalancer": {"ingress": [{"hostname": hostname}]}}
            c.put(f"/apis/networking.k8s.io/v1/namespaces/{meta['namespace']}/ingresses/{meta['name']}/status", json=ing)

    def _volumes(self, c: httpx.Client) -> None:
        classes = {sc["metadata"]["name"]: sc for sc in c.get("/apis/storage.k8s.io/v1/storageclasses").json()["items"]
                   if sc["provisioner"] == EBS_PROVISIONER}
        for pvc in c.get("/api/v1/persistentvolumeclaims").json()["items"]:
            meta, spec = pvc["metadata"], pvc["spec"]
            if (spec.get("storageClassName") not in classes or spec.get("volumeName")
                    or "volume.kubernetes.io/selected-node" not in meta.get("annotations", {})):
                continue
            refusal = ebs_refusal(pvc, classes[spec["storageClassName"]])
            if refusal is not None:
                self._refuse(c, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **pvc}, "ProvisioningFailed",
                             f"failed to provision volume with StorageClass \"{spec['storageClassName']}\": {refusal}",
                             f"{EBS_PROVISIONER}_stand-in")
                continue
            name = f"pvc-{meta['uid']}"
            pv = {"apiVersion": "v1", "kind": "PersistentVolume",
                  "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": EBS_PROVISIONER}},
                  "spec": {"capacity": {"storage": spec["resources"]["requests"]["storage"]},
                           "accessModes": spec["accessModes"], "persistentVolumeReclaimPolicy": "Delete",
                           "storageClassName": spec["storageClassName"], "volumeMode": spec.get("volumeMode", "Filesystem"),
                           "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                                        "name": meta["name"], "uid": meta["uid"]},
                           "csi": {"driver": EBS_PROVISIONER, "volumeHandle": f"vol-standin-{meta['uid'][:8]}",
                                   "fsType": "ext4"}}}
            if c.post("/api/v1/persistentvolumes", json=pv).status_code == 201:
                self.created.append(name)
        for pv in c.get("/api/v1/persistentvolumes").json()["items"]:
            if (pv["status"].get("phase") == "Released" and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete"
                    and pv["metadata"].get("annotations", {}).get("pv.kubernetes.io/provisioned-by") == EBS_PROVISIONER):
                c.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")


@contextlib.contextmanager
def running_cluster(root: Path, install: Path) -> Iterator[Cluster]:
    cluster = start_cluster(root, install)
    try:
        yield cluster
    finally:
        cluster.stop()


def build_control_plane() -> tuple[int, str, str]:
    """Run .ci/build-k8s-control-plane: (exit code, install directory, stderr)."""
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "build-k8s-control-plane")], capture_output=True, text=True,
                          timeout=5400, check=False)
    return proc.returncode, proc.stdout.strip(), proc.stderr[-3000:]


def build_k8s_provider() -> tuple[int, str, str]:
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "build-k8s-provider")], capture_output=True, text=True,
                          timeout=5400, check=False)
    return proc.returncode, proc.stdout.strip(), proc.stderr[-3000:]


def have_kubectl() -> bool:
    return shutil.which("kubectl") is not None
