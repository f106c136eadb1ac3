"""The Kubernetes half for real: THIS program's personal stack created and destroyed through the engine
(``python -m automation``, as the workflows run it) on the real Pulumi CLI, the real pulumi-kubernetes provider
(v4.25.0, built by .ci/build-k8s-provider) and a real Kubernetes control plane (.ci/build-k8s-control-plane,
tests/support/k8s_cluster.py), asserting on the cluster itself, on the backend's state and on the engine's reports.

Stood in, and only these (each named where it is made):
- the AWS platform a personal stack reads through its StackReference: the `dev` stack here is a STAND-IN that
  exports the same typed contract (infra/platform.py: SharedPlatform) pointing at the local control plane;
- the kubelet, the ALB controller and the EBS CSI driver: kwok stages and a volume provisioner
  (tests/support/k8s_cluster.py);
- the pulumi-random provider, which the Go module proxy refuses: tests/support/standins/random_provider.py.

The tests are one story and run in file order (module-scoped state). Payloads follow GitHub's documentation of
the events as a workflow receives them (see tests/real/test_real_engine.py).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import gitrepo
from tests.support.analyzer_records import check_recording
from tests.support.fake_github import FakeGitHub, serve
from tests.support.k8s_cluster import (
    STORAGE_CLASS,
    build_control_plane,
    build_k8s_provider,
    running_cluster,
    storage_class,
)
from tests.support.k8s_world import CANARY, World, launchers, project_repository, stand_in_dev
from tests.support.paths import ROOT
from tests.support.real_world import delete_event, push_event, repo_info
from tests.support.realcli import require_cli
from tests.support.realdb import _need

pytestmark = pytest.mark.k8s

BUILDS = ".ci/build-k8s-control-plane and .ci/build-k8s-provider, run by .ci/test"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    choice = require_cli()
    _need(shutil.which("kubectl") is not None and shutil.which("openssl") is not None,
          "kubectl and openssl are needed to drive the control plane", "the machine's Debian packages")
    code, control_plane, err = build_control_plane()
    _need(code == 0, f"the Kubernetes control plane could not be built (exit {code}): {err}", BUILDS)
    code, provider, err = build_k8s_provider()
    _need(code == 0, f"the pulumi-kubernetes provider could not be built (exit {code}): {err}", BUILDS)
    tmp = tmp_path_factory.mktemp("k8s-real")
    (tmp / "home").mkdir()
    backend = tmp / "state"
    backend.mkdir()
    launchers(tmp / "bin", Path(provider))
    with running_cluster(tmp / "cluster", Path(control_plane)) as cluster, serve(FakeGitHub()) as gh:
        repo = project_repository(tmp / "repo", policy_pack=True)
        assert choice.root is not None
        w = World(repo=repo, backend=backend, tmp=tmp, cli_root=choice.root, bin=tmp / "bin", cluster=cluster, gh=gh)
        w.shas["main"] = gitrepo.git(repo, "rev-parse", "HEAD")
        stand_in_dev(w)
        yield w


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:{proc.stdout[-6000:]}\nstderr:{proc.stderr[-6000:]}"
    reports = json.loads(proc.stdout)["reports"]
    assert len(reports) == 1, reports
    return dict(reports[0])


NS = "ghost-alice"


def test_1_a_push_to_a_personal_branch_brings_the_stack_up_on_the_cluster(world: World) -> None:
    w = world
    gitrepo.git(w.repo, "checkout", "-q", "-b", "dev/alice")
    head = gitrepo.commit(w.repo, {"NOTES.md": "alice's branch\n"}, "Start alice")
    report = _report(w.engine("run", "--json", event=push_event(w, "dev/alice", "", head, "Start alice", created=True)))  # type: ignore[arg-type]
    w.shas["alice"] = head
    assert report["stack"] == "dev-alice" and report["operation"] == "up" and report["status"] == "succeeded", report
    # the policy pack ran on the real provider's props (a preview first, then the up): nothing to say
    assert report["policy"] == {"policies": 29, "violations": []}, report["policy"]
    c = w.cluster
    ns = c.get("namespace", NS)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deployment = c.get("deployment", "ghost", "-n", NS)
    # KWOK MAKES THIS TRUE: no container runs, so "available", "Running" and the Job's "Complete" below prove that
    # the API server admitted and the scheduler placed the pods, not that Ghost starts; what kwok cannot show is
    # checked otherwise (the Secret/ConfigMap key references below; Ghost itself in the db tier)
    assert deployment["status"].get("availableReplicas") == 1, deployment["status"]
    pods = c.get("pods", "-n", NS, "-l", "app.kubernetes.io/name=ghost")["items"]
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Running", [p["status"] for p in pods]
    spec = pods[0]["spec"]
    # admitted under `restricted`: the fields Pod Security checks are the rendered ones
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["automountServiceAccountToken"] is False
    assert all(ct["securityContext"]["capabilities"]["drop"] == ["ALL"] for ct in spec["containers"] + spec["initContainers"])
    job = c.get("job", "ghost-db-bootstrap", "-n", NS)
    assert any(cond["type"] == "Complete" and cond["status"] == "True" for cond in job["status"]["conditions"])
    pvc = c.get("pvc", "ghost-content", "-n", NS)
    assert pvc["status"]["phase"] == "Bound" and pvc["spec"]["storageClassName"] == STORAGE_CLASS
    ingress = c.get("ingress", "ghost", "-n", NS)
    hostname = ingress["status"]["loadBalancer"]["ingress"][0]["hostname"]
    assert ingress["spec"]["ingressClassName"] == "alb-personal"
    assert report["outputs"]["ghostUrl"] == f"http://{hostname}"
    policies = {p["metadata"]["name"] for p in c.get("networkpolicies", "-n", NS)["items"]}
    assert policies == {"ghost-default-deny", "ghost", "ghost-db-bootstrap"}
    secrets = {s["metadata"]["name"]: s for s in c.get("secrets", "-n", NS)["items"]}
    assert {"ghost-db", "ghost-db-admin"} <= set(secrets)
    for name in ("ghost-db", "ghost-db-admin"):
        w.secret_values |= {base64.b64decode(v).decode() for k, v in secrets[name]["data"].items() if k == "password"}
    assert CANARY in w.secret_values, "the admin Secret holds the provisioner's password dev exports"
    # kwok starts no container: check here that every Secret/ConfigMap key the pods reference exists in the cluster
    from tests.support.references import missing

    objects = {("Secret", n): o for n, o in secrets.items()}
    objects |= {("ConfigMap", o["metadata"]["name"]): o for o in c.get("configmaps", "-n", NS)["items"]}
    for kind, name in (("deployment", "ghost"), ("job", "ghost-db-bootstrap")):
        template = c.get(kind, name, "-n", NS)["spec"]["template"]["spec"]
        assert missing(template, objects) == [], (kind, name, missing(template, objects))
    assert "dev-alice" in w.stacks()


def _set_dev_config(w: World, values: dict[str, str]) -> None:
    """Change keys of Pulumi.dev.yaml, the template personal stacks derive from."""
    path = w.repo / "Pulumi.dev.yaml"
    lines = path.read_text().splitlines()
    for key, value in values.items():
        lines = [ln for ln in lines if not ln.startswith(f"  ghost-gitops:{key}:")]
        lines.insert(lines.index("config:") + 1, f"  ghost-gitops:{key}: {value}")
    path.write_text("\n".join(lines) + "\n")


def _pr_event(number: int, title: str, head: str, head_sha: str, base: str, base_sha: str) -> tuple[str, dict[str, Any]]:
    """A pull_request event as GITHUB_EVENT_PATH holds it (the webhook's pull request object; see test_real_engine)."""
    side = {"user": {"login": "acme"}, "repo": repo_info()}
    pr = {"number": number, "title": title, "user": {"login": "alice", "id": 2, "type": "User"}, "draft": False,
          "merged": False, "state": "open", "head": {**side, "ref": head, "sha": head_sha, "label": f"acme:{head}"},
          "base": {**side, "ref": base, "sha": base_sha, "label": f"acme:{base}"}}
    return "pull_request", {"action": "opened", "number": number, "pull_request": pr, "repository": repo_info(),
                            "sender": {"login": "alice", "id": 2, "type": "User"}}


def _changes(report: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {c["name"]: (c["op"], c["keys"]) for c in report["changes"] if not c["type"].startswith("pulumi:providers:")}


def _state(w: World) -> dict[str, Any]:
    """What the cluster holds in the personal namespace: each object's spec/data and generation."""
    return {kind: {o["metadata"]["name"]: (o.get("spec"), o.get("data"), o["metadata"].get("generation"))
                   for o in w.cluster.get(kind, "-n", NS)["items"]}
            for kind in ("deployments", "configmaps", "services", "ingresses", "networkpolicies", "jobs", "pvc")}


def test_2_a_pull_request_into_the_branch_previews_the_real_providers_diff_and_changes_nothing(world: World) -> None:
    w = world
    gitrepo.git(w.repo, "checkout", "-q", "-b", "feature/alice-bump", "dev/alice")
    _set_dev_config(w, {"ghostImage": "ghost:6.66.0-alpine", "ghostMemoryLimit": "1Gi", "ghostCpuRequest": "200m"})
    head = gitrepo.commit(w.repo, {}, "Ghost 6.66, more memory")
    before = _state(w)
    report = _report(w.engine("run", "--json", event=_pr_event(7, "Ghost 6.66, more memory", "feature/alice-bump", head,
                                                                 "dev/alice", w.shas["alice"])))
    assert report["operation"] == "preview" and report["stack"] == "dev-alice" and report["status"] == "succeeded"
    changes = _changes(report)
    assert changes["ghost-deployment"][0] == "update" and "spec" in changes["ghost-deployment"][1], changes
    # a Job's pod template is immutable: the real provider replaces it, naming the property that forces it
    assert changes["ghost-db-bootstrap"][0] == "replace", changes
    assert "spec.template.spec.containers[0].image" in changes["ghost-db-bootstrap"][1], changes
    assert changes.pop("shared") == ("read", []), "the StackReference to dev is read, as on every run"
    assert set(changes) == {"ghost-deployment", "ghost-db-bootstrap"}, changes
    # the real provider's detailed diff, with the values at each path (issue 18)
    values = {(c["name"], p["path"]): (p["old"], p["new"], p["forces_replacement"])
              for c in report["changes"] for p in c["properties"]}
    image, container = "spec.template.spec.containers[0].image", "spec.template.spec.containers[0]"
    assert values[("ghost-deployment", image)] == ("ghost:6.65.0-alpine", "ghost:6.66.0-alpine", False), values
    assert values[("ghost-deployment", f"{container}.resources.limits.memory")] == ("768Mi", "1Gi", False), values
    assert values[("ghost-deployment", f"{container}.resources.requests.cpu")] == ("100m", "200m", False), values
    assert values[("ghost-db-bootstrap", image)] == ("ghost:6.65.0-alpine", "ghost:6.66.0-alpine", True), values
    comment = next(iter(w.gh.comments.values()))["body"]
    assert "dev-alice" in comment and "ghost-deployment" in comment and "kubernetes:apps/v1:Deployment" in comment
    top = comment.split("| create |")[0]
    assert f"`ghost-db-bootstrap` because of `{image}` (`ghost:6.65.0-alpine` → `ghost:6.66.0-alpine`)" in top, top
    assert f"| `{container}.resources.limits.memory` | `768Mi` | `1Gi` |" in comment
    assert f"<!-- ghost-gitops:plan v1 stack=dev-alice commit={head} digest=" in comment
    assert _state(w) == before, "a preview changes nothing in the cluster"
    w.shas["pr7"] = head


def test_3_the_merge_rolls_the_deployment_out_and_touches_nothing_else(world: World) -> None:
    w = world
    gitrepo.git(w.repo, "checkout", "-q", "dev/alice")
    gitrepo.git(w.repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from acme/feature/alice-bump",
                "feature/alice-bump")
    merge = gitrepo.git(w.repo, "rev-parse", "HEAD")
    w.gh.commit_pulls = [{"number": 7, "title": "Ghost 6.66, more memory", "user": {"login": "alice"},
                          "merged_at": "2026-11-29T10:00:00Z", "state": "closed", "base": {"ref": "dev/alice"},
                          "head": {"ref": "feature/alice-bump", "sha": w.shas["pr7"]}}]
    w.gh.reviews = [{"user": {"login": "bob"}, "state": "APPROVED"}]
    before = _state(w)
    report = _report(w.engine("run", "--json", event=push_event(w, "dev/alice", w.shas["alice"], merge,  # type: ignore[arg-type]
                                                                "Merge pull request #7")))
    assert report["operation"] == "up" and report["status"] == "succeeded", report
    assert any(n.startswith("the plan matches the preview reviewed on #7") for n in report["notes"]), report["notes"]
    after = _state(w)
    deployment = w.cluster.get("deployment", "ghost", "-n", NS)
    (ghost,) = deployment["spec"]["template"]["spec"]["containers"]
    assert ghost["image"] == "ghost:6.66.0-alpine" and ghost["resources"]["limits"]["memory"] == "1Gi"
    assert deployment["status"].get("updatedReplicas") == 1 and deployment["status"].get("availableReplicas") == 1
    pods = w.cluster.get("pods", "-n", NS, "-l", "app.kubernetes.io/name=ghost")["items"]
    assert [p["spec"]["containers"][0]["image"] for p in pods] == ["ghost:6.66.0-alpine"], "rolled out (Recreate)"
    for kind in ("configmaps", "services", "ingresses", "networkpolicies", "pvc"):
        assert after[kind] == before[kind], f"{kind} changed"
    w.shas["alice"] = merge


#: The Ghost component in the shape dev and prod use it, applied by a harness program: the stack's real config
#: (Pulumi.<stack>.yaml through the engine's loader and the program's settings), the program's own wiring
#: (apps/ghost/wiring.py: ghost_args), and a STAND-IN platform (the EKS cluster is the local control plane; the
#: RDS endpoint, master user and password are values, since no database is reached in this test).
HARNESS = """
import json, sys
sys.path.insert(0, {root!r})
import pulumi
import pulumi_kubernetes as k8s
from pulumi import automation as auto
from apps.ghost import Ghost
from automation.config.stackconfig import load_stack_config
from apps.ghost.wiring import ghost_args
from infra.platform import PROVISIONER_USER, Platform
from infra.settings import load_settings
from pathlib import Path

STACK = {stack!r}
config = load_stack_config(Path({root!r}), STACK)
values = {{k.split(":", 1)[1]: v for k, v in config.values.items() if k.startswith("ghost-gitops:")}}
values["aws:region"] = config.values["aws:region"]
values.update(json.loads({overrides!r}))  # a variant of the stack's config (mail), validated like the rest
settings = load_settings(STACK, values)

def program():
    provider = k8s.Provider("stand-in-eks", kubeconfig={kubeconfig!r}, enable_server_side_apply=True)
    out = pulumi.Output.from_input
    platform = Platform(provider, out("127.0.0.1"), out(3306), out("ghostadmin"), pulumi.Output.secret("stand-in-master"),
                        out({storage_class!r}), out("alb"), out(settings.vpc_cidr), {{}},
                        provisioner=(PROVISIONER_USER, pulumi.Output.secret("stand-in-provisioner")
                                     if settings.hosts_personal_stacks else None))
    ghost = Ghost("ghost", ghost_args(settings, platform), opts=pulumi.ResourceOptions(providers=[provider]))
    pulumi.export("ghostUrl", ghost.url)

stack = auto.create_or_select_stack(stack_name={name!r}, project_name="ghost-gitops-harness", program=program,
    opts=auto.LocalWorkspaceOptions(work_dir={work!r}, pulumi_command=auto.PulumiCommand(root={cli!r})))
if sys.argv[1] == "up":
    result = stack.up(on_output=lambda _: None, show_secrets=False)
    print(json.dumps({{"outputs": {{k: v.value for k, v in result.outputs.items()}}}}))
else:
    stack.destroy(on_output=lambda _: None, show_secrets=False)
"""


def test_4_a_stateful_replacement_is_flagged_and_the_guarded_rollback_refuses_it(world: World) -> None:
    """dev's platform moves personal volumes to a new storage class: for dev-alice the real provider plans to
    replace the content volume claim (storageClassName is immutable), and then its server-side dry run of that
    replacement is refused by the API server ("spec is immutable after creation": pulumi-kubernetes #2575 with
    v4.25.0's SSA previews). The preview fails, but the report still flags the claim's replacement; rolling alice
    back to her first commit plans the same, so the guarded rollback refuses (exit 6) and nothing changes."""
    w = world
    w.cluster.kubectl("apply", "-f", "-", input_=storage_class("gp3-encrypted-v2"))
    stand_in_dev(w, storageClassName="gp3-encrypted-v2")
    try:
        before = _state(w)
        preview = w.engine("preview", "--stack", "dev-alice", "--json")
        assert preview.returncode == 1, (preview.stdout[-3000:], preview.stderr[-3000:])
        (report,) = json.loads(preview.stdout)["reports"]
        assert "spec is immutable after creation" in report["error"], report["error"]
        assert any("planned to replace ghost-content (kubernetes:core/v1:PersistentVolumeClaim), which holds data" in n
                   for n in report["notes"]), report["notes"]
        refused = w.engine("rollback", "--stack", "dev-alice", "--reason", "back to the first version")
        assert refused.returncode == 6, (refused.stdout[-3000:], refused.stderr[-3000:])
        assert "replace kubernetes:core/v1:PersistentVolumeClaim ghost-content" in refused.stderr
        assert "--allow-stateful-changes" in refused.stderr
        assert _state(w) == before, "the refused rollback changed nothing"
        pvc = w.cluster.get("pvc", "ghost-content", "-n", NS)
        assert pvc["spec"]["storageClassName"] == STORAGE_CLASS and pvc["status"]["phase"] == "Bound"
    finally:
        stand_in_dev(w)


def test_5_drift_made_with_kubectl_is_reported_exactly_and_remediated(world: World) -> None:
    """A person edits the ConfigMap and scales the Deployment by hand: the drift check names exactly those two
    objects and the properties that differ (never values); remediation (the personal rule allows it) refreshes
    and re-applies, and the cluster holds the program's values again."""
    w = world
    c = w.cluster
    assert _report(w.engine("drift", "--stack", "dev-alice", "--json"))["status"] == "succeeded"
    config = c.get("configmap", "ghost-config", "-n", NS)["data"]["config.json"]
    edited = json.loads(config)
    edited["logging"] = {"level": "debug", "transports": ["stdout"]}
    c.kubectl("patch", "configmap", "ghost-config", "-n", NS, "--type=merge",
              "-p", json.dumps({"data": {"config.json": json.dumps(edited)}}))
    c.kubectl("scale", "deployment", "ghost", "-n", NS, "--replicas=2")
    drifted = w.engine("drift", "--stack", "dev-alice", "--json")
    assert drifted.returncode == 5, (drifted.stdout[-3000:], drifted.stderr[-3000:])
    (report,) = json.loads(drifted.stdout)["reports"]
    assert report["status"] == "drifted", report
    changed = {ch["name"]: ch["keys"] for ch in report["changes"] if ch["op"] != "same"}
    assert set(changed) == {"ghost-config", "ghost-deployment"}, changed
    assert any("data" in k for k in changed["ghost-config"]) and any("replicas" in k or k == "spec" for k in changed["ghost-deployment"]), changed
    assert "debug" not in drifted.stdout, "values are never shown"
    fixed = w.engine("drift", "--stack", "dev-alice", "--remediate", "--json")
    assert fixed.returncode == 0, (fixed.stdout[-3000:], fixed.stderr[-3000:])
    assert json.loads(fixed.stdout)["reports"][0]["status"] == "remediated"
    assert c.get("configmap", "ghost-config", "-n", NS)["data"]["config.json"] == config
    deadline = time.monotonic() + 60
    while (d := c.get("deployment", "ghost", "-n", NS))["spec"]["replicas"] != 1 or d["status"].get("availableReplicas") != 1:
        assert time.monotonic() < deadline, d["status"]
        time.sleep(1)


def test_6_a_second_personal_stack_runs_beside_the_first_sharing_only_the_load_balancer(world: World) -> None:
    w = world
    gitrepo.git(w.repo, "checkout", "-q", "-b", "dev/bob", "main")
    head = gitrepo.commit(w.repo, {"NOTES.md": "bob's branch\n"}, "Start bob")
    report = _report(w.engine("run", "--json", event=push_event(w, "dev/bob", "", head, "Start bob", created=True)))  # type: ignore[arg-type]
    assert report["stack"] == "dev-bob" and report["status"] == "succeeded", report
    c = w.cluster
    for ns in (NS, "ghost-bob"):
        assert c.get("deployment", "ghost", "-n", ns)["status"].get("availableReplicas") == 1
    ingresses = {ns: c.get("ingress", "ghost", "-n", ns) for ns in (NS, "ghost-bob")}
    assert {i["spec"]["ingressClassName"] for i in ingresses.values()} == {"alb-personal"}, "one shared ALB class"
    hosts = {i["status"]["loadBalancer"]["ingress"][0]["hostname"] for i in ingresses.values()}
    assert len(hosts) == 2
    claims = {ns: c.get("pvc", "ghost-content", "-n", ns)["spec"]["volumeName"] for ns in (NS, "ghost-bob")}
    assert len(set(claims.values())) == 2, "each stack has its own volume"
    jobs = {ns: c.get("job", "ghost-db-bootstrap", "-n", ns) for ns in (NS, "ghost-bob")}
    dbs = {ns: json.loads(c.get("configmap", "ghost-config", "-n", ns)["data"]["config.json"])["database"]["connection"]
           for ns in (NS, "ghost-bob")}
    assert dbs[NS]["database"] == "ghost_alice" and dbs["ghost-bob"]["database"] == "ghost_bob"
    assert all(j["status"].get("succeeded") == 1 for j in jobs.values())  # kwok makes this true (see test 1)
    assert {"dev-alice", "dev-bob"} <= w.stacks()
    w.shas["bob"] = head


def test_7_a_value_the_api_server_refuses_fails_with_its_reason_and_changes_nothing(world: World) -> None:
    """Shrinking the content volume passes every check the program can make (ghostStorageGb is in range) but the
    API server refuses it: the run exits 1 naming the object and the server's reason; the claim keeps its size;
    the next good commit deploys."""
    w = world
    w.gh.commit_pulls = []  # direct pushes: no pull request contains these commits
    gitrepo.git(w.repo, "checkout", "-q", "dev/alice")
    _set_dev_config(w, {"ghostStorageGb": "2"})
    bad = gitrepo.commit(w.repo, {}, "Smaller volume")
    proc = w.engine("run", "--json", event=push_event(w, "dev/alice", w.shas["alice"], bad, "Smaller volume"))  # type: ignore[arg-type]
    assert proc.returncode == 1, (proc.stdout[-3000:], proc.stderr[-3000:])
    (report,) = json.loads(proc.stdout)["reports"]
    assert report["status"] == "failed" and "ghost-content" in report["error"], report
    assert "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity" in report["error"]
    assert w.cluster.get("pvc", "ghost-content", "-n", NS)["spec"]["resources"]["requests"]["storage"] == "5Gi"
    gitrepo.git(w.repo, "revert", "--no-edit", "HEAD")
    good = gitrepo.git(w.repo, "rev-parse", "HEAD")
    again = _report(w.engine("run", "--json", event=push_event(w, "dev/alice", bad, good, "Revert")))  # type: ignore[arg-type]
    assert again["status"] == "succeeded", again
    w.shas["alice"] = good


def test_7b_a_program_change_a_kubernetes_policy_forbids_is_stopped_before_any_change(world: World) -> None:
    """The policy pack on the real pulumi-kubernetes provider: a commit that lets Ghost's containers write their root
    filesystem is stopped by `k8s-pod-hardening` in the preview the engine runs before the up (exit 9), naming the
    Deployment and the Job and how to fix them; the cluster is unchanged; the revert deploys."""
    w = world
    gitrepo.git(w.repo, "checkout", "-q", "dev/alice")
    source = (w.repo / "apps" / "ghost" / "component.py").read_text()
    assert "read_only_root_filesystem=True" in source
    bad = gitrepo.commit(w.repo, {"apps/ghost/component.py": source.replace("read_only_root_filesystem=True",
                                                                            "read_only_root_filesystem=False")},
                         "Writable root filesystem")
    before = _state(w)
    proc = w.engine("run", "--json", event=push_event(w, "dev/alice", w.shas["alice"], bad, "Writable root"))  # type: ignore[arg-type]
    assert proc.returncode == 9, (proc.stdout[-3000:], proc.stderr[-3000:])
    (report,) = json.loads(proc.stdout)["reports"]
    assert report["status"] == "policy-denied" and report["operation"] == "up", report
    found = {(v["policy"], v["name"], v["level"]) for v in report["policy"]["violations"]}
    assert found == {("k8s-pod-hardening", "ghost-deployment", "mandatory"),
                     ("k8s-pod-hardening", "ghost-db-bootstrap", "mandatory")}, found
    assert all("readOnlyRootFilesystem must be true" in v["message"] and v["fix"] for v in report["policy"]["violations"])
    assert _state(w) == before, "nothing changed in the cluster"
    gitrepo.git(w.repo, "revert", "--no-edit", "HEAD")
    good = gitrepo.git(w.repo, "rev-parse", "HEAD")
    again = _report(w.engine("run", "--json", event=push_event(w, "dev/alice", bad, good, "Revert")))  # type: ignore[arg-type]
    assert again["status"] == "succeeded" and again["policy"]["violations"] == [], again
    w.shas["alice"] = good


def test_7c_the_stand_in_controllers_refuse_what_aws_refuses_on_the_cluster(world: World) -> None:
    """The EBS and ALB stand-ins are no kinder than AWS (tests/support/standins/aws_controllers.py): a ReadWriteMany claim
    of the platform's class stays Pending with a ProvisioningFailed Event, and an Ingress with the default (instance)
    target type in front of a ClusterIP Service gets a FailedBuildModel Event and no address, while the same Ingress
    with ``target-type: ip`` gets one. Applied with kubectl in a scratch namespace; the claim carries the
    selected-node annotation the scheduler writes for a WaitForFirstConsumer class (no pod is needed for it)."""
    w = world
    ns = "standin-check"
    assert w.cluster.provisioner is not None
    w.cluster.kubectl("create", "namespace", ns)
    try:
        objects = [
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "shared", "namespace": ns,
                          "annotations": {"volume.kubernetes.io/selected-node": "kwok-node-0"}},
             "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": STORAGE_CLASS,
                      "resources": {"requests": {"storage": "1Gi"}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
             "spec": {"type": "ClusterIP", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}}]
        for name, annotations in (("instance", {}), ("ip", {"alb.ingress.kubernetes.io/target-type": "ip"})):
            objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                            "metadata": {"name": name, "namespace": ns, "annotations": annotations},
                            "spec": {"ingressClassName": "alb-personal", "rules": [{"http": {"paths": [
                                {"path": "/", "pathType": "Prefix",
                                 "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}})
        w.cluster.kubectl("apply", "-f", "-", input_=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))

        def events() -> dict[str, str]:
            return {f"{e['involvedObject']['kind']}/{e['involvedObject']['name']}": f"{e['reason']}: {e['message']}"
                    for e in w.cluster.get("events", "-n", ns)["items"] if e["type"] == "Warning"}

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not ({"PersistentVolumeClaim/shared", "Ingress/instance"} <= events().keys()
                                                   and w.cluster.get("ingress", "ip", "-n", ns).get("status", {})
                                                   .get("loadBalancer", {}).get("ingress")):
            time.sleep(0.5)
        found = events()
        assert found.get("PersistentVolumeClaim/shared", "").startswith("ProvisioningFailed: failed to provision volume"), found
        assert "access modes ['ReadWriteMany']" in found["PersistentVolumeClaim/shared"], found
        assert found.get("Ingress/instance", "").startswith("FailedBuildModel: Failed build model due to ingress: "
                                                            f"{ns}/instance: TargetGroup port is empty"), found
        claim = w.cluster.get("pvc", "shared", "-n", ns)
        assert claim["status"]["phase"] == "Pending" and not claim["spec"].get("volumeName"), claim
        assert not w.cluster.get("ingress", "instance", "-n", ns).get("status", {}).get("loadBalancer", {}).get("ingress")
        assert w.cluster.get("ingress", "ip", "-n", ns)["status"]["loadBalancer"]["ingress"][0]["hostname"]
        assert "Ingress/ip" not in found, found
    finally:
        w.cluster.kubectl("delete", "namespace", ns, "--wait=false")


#: prod with mail configured (SES SMTP), the one shape of the component dev and prod do not use yet
MAIL_CANARY = "canary-Smtp-Pass#7Wq"
MAIL = {"smtpHost": "email-smtp.us-east-1.amazonaws.com", "smtpPort": "587", "smtpUser": "AKIAEXAMPLESMTPUSER",
        "smtpPassword": MAIL_CANARY, "mailFrom": "blog@example.com", "ghostStaffDeviceVerification": "true"}
VARIANTS = {"dev": ("dev", {}), "prod": ("prod", {}), "prod-mail": ("prod", MAIL)}


def _harness(w: World, variant: str, action: str) -> subprocess.CompletedProcess[str]:
    stack, overrides = VARIANTS[variant]
    work = w.tmp / f"harness-{variant}"
    work.mkdir(exist_ok=True)
    (work / "Pulumi.yaml").write_text("name: ghost-gitops-harness\nruntime: python\n")
    script = work / "harness.py"
    script.write_text(HARNESS.format(root=str(ROOT), stack=stack, kubeconfig=w.cluster.kubeconfig_json,
                                     storage_class=STORAGE_CLASS, work=str(work), cli=str(w.cli_root),
                                     overrides=json.dumps(overrides), name=f"harness-{variant}"))
    proc = subprocess.run([sys.executable, str(script), action], cwd=work, env=w.env(), capture_output=True, text=True,
                          timeout=900, check=False)
    w.outputs += [proc.stdout, proc.stderr]
    return proc


@pytest.mark.parametrize("stack", list(VARIANTS))
def test_8_the_ghost_component_in_the_shape_dev_and_prod_use_it(world: World, stack: str) -> None:
    w = world
    w.cluster.kubectl("apply", "-f", "-", input_=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "alb"},
        "spec": {"controller": "eks.amazonaws.com/alb"}}))
    up = _harness(w, stack, "up")
    try:
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        _check_harness(w, stack, json.loads(up.stdout.strip().splitlines()[-1])["outputs"], up)
    finally:
        if stack.startswith("prod"):  # protected in production: a deliberate unprotect first (what the check proves)
            w.pulumi("state", "unprotect", "--all", "--yes", "--stack", f"harness-{stack}", cwd=w.tmp / f"harness-{stack}")
        down = _harness(w, stack, "destroy")
    assert down.returncode == 0, down.stderr[-4000:]
    deadline = time.monotonic() + 120
    while w.cluster.get("namespace", "ghost") is not None:
        assert time.monotonic() < deadline, "the namespace is still there"
        time.sleep(1)


def _check_harness(w: World, stack: str, outputs: dict[str, Any], up: subprocess.CompletedProcess[str]) -> None:
    c = w.cluster
    deployment = c.get("deployment", "ghost", "-n", "ghost")
    if deployment["status"].get("availableReplicas") != 1:  # say why, in full
        print(json.dumps(deployment["status"], indent=1), c.kubectl("get", "pods,pvc,events", "-n", "ghost", "-o", "wide").stdout,
              json.dumps(c.get("node", "kwok-node-0")["status"]["conditions"], indent=1), up.stderr[-3000:])
    assert deployment["status"].get("availableReplicas") == 1, "Ghost is available (details printed above)"
    job = c.get("job", "ghost-db-bootstrap", "-n", "ghost")
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GHOST_DB_ACCESS"] == "admin" and env["GHOST_DB_PROVISIONER_USER"] == "ghost_provisioner"
    secrets = {s["metadata"]["name"] for s in c.get("secrets", "-n", "ghost")["items"]}
    ingress = c.get("ingress", "ghost", "-n", "ghost")
    annotations = ingress["metadata"].get("annotations", {})
    config = json.loads(c.get("configmap", "ghost-config", "-n", "ghost")["data"]["config.json"])
    egress_ports = {p["port"] for rule in c.get("networkpolicy", "ghost", "-n", "ghost")["spec"]["egress"]
                    for p in rule.get("ports", [])}
    if stack == "prod-mail":
        assert "ghost-mail" in secrets and config["mail"]["transport"] == "SMTP" and "pass" not in config["mail"]["options"]["auth"]
        assert config["security"]["staffDeviceVerification"] is True and 587 in egress_ports
        mail = c.get("secret", "ghost-mail", "-n", "ghost")["data"]
        assert base64.b64decode(mail["password"]).decode() == MAIL_CANARY
    else:
        assert "ghost-mail" not in secrets and "mail" not in config and 587 not in egress_ports
    if stack.startswith("prod"):
        assert outputs["ghostUrl"] == "https://blog.example.com"
        assert ingress["spec"]["rules"][0]["host"] == "blog.example.com"
        assert annotations["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
        assert "ghost-db-provisioner" not in secrets, "prod has no provisioner"
        # protected in production: the namespace and the content volume survive a destroy
        refused = _harness(w, stack, "destroy")
        assert refused.returncode != 0 and "protect" in refused.stderr, refused.stderr[-3000:]
        assert c.get("namespace", "ghost") is not None and c.get("pvc", "ghost-content", "-n", "ghost") is not None
    else:
        assert outputs["ghostUrl"].startswith("http://k8s-ghost-ghost.stand-in-alb")
        assert "ghost-db-provisioner" in secrets, "dev hosts the personal stacks' provisioner"


def _gone(w: World, namespace: str) -> None:
    """The namespace and the volumes of its claims are deleted (the namespace controller, then the stand-in
    provisioner for the released volumes), within two minutes."""
    deadline = time.monotonic() + 120
    while w.cluster.get("namespace", namespace) is not None or [
            pv for pv in w.cluster.get("pv")["items"] if pv["spec"]["claimRef"]["namespace"] == namespace]:
        assert time.monotonic() < deadline, f"{namespace} or its volume is still there"
        time.sleep(1)


def test_9_the_branch_deleted_tears_down_destroys_and_leaves_nothing(world: World) -> None:
    w = world
    gitrepo.git(w.repo, "checkout", "-q", "main")
    gitrepo.git(w.repo, "branch", "-q", "-D", "dev/alice")
    report = _report(w.engine("run", "--json", event=delete_event("dev/alice")))
    assert report["operation"] == "destroy" and report["status"] == "succeeded", report
    _gone(w, NS)
    assert w.stacks() == {"dev", "dev-bob"}, "bob's stack is untouched"
    assert w.cluster.get("deployment", "ghost", "-n", "ghost-bob")["status"].get("availableReplicas") == 1
    gitrepo.git(w.repo, "branch", "-q", "-D", "dev/bob")
    report = _report(w.engine("run", "--json", event=delete_event("dev/bob")))
    assert report["operation"] == "destroy" and report["status"] == "succeeded", report
    _gone(w, "ghost-bob")
    assert w.stacks() == {"dev"}


def test_10_secrets_never_reach_any_output(world: World) -> None:
    everything = "\n".join(world.outputs)
    assert everything, "the story printed something"
    assert CANARY not in everything and MAIL_CANARY not in everything
    assert len(world.secret_values) == 2 and not [v for v in world.secret_values if v in everything], \
        "a Secret's value reached an output"
    kubeconfig = json.loads(world.cluster.kubeconfig_json)
    assert kubeconfig["users"][0]["user"]["client-key-data"] not in everything


def test_11_what_the_real_cli_sends_the_policy_pack_is_the_committed_fixture_and_holds_no_secret(world: World) -> None:
    """The pack recorded what the real CLI and the real pulumi-kubernetes provider sent it for alice's personal stack
    (tests/support/analyzer_records.py): the same resources and property paths as tests/data/analyzer/k8s-personal-stack.json,
    which the fast tier runs the pack on (tests/program/test_policy_recorded.py); no secret reached any recording."""
    recorded = world.tmp / "analyzer" / "dev-alice.json"
    resources = check_recording(recorded, "k8s-personal-stack")
    assert {r["type"] for r in resources} >= {"kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job",
                                              "kubernetes:core/v1:Secret"}, resources
    kubeconfig = json.loads(world.cluster.kubeconfig_json)
    for path in (world.tmp / "analyzer").glob("*.json"):
        text = path.read_text()
        leaked = [v for v in [CANARY, MAIL_CANARY, *world.secret_values,
                              kubeconfig["users"][0]["user"]["client-key-data"]] if v in text]
        assert not leaked, f"{path.name} holds a secret"
