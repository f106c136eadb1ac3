"""The world of the Kubernetes story (tests/real/test_k8s_real.py) and of its benchmark (benchmarks/k8s_personal_bench.py):
a repository of this project, a state backend, the real CLI, the control plane and the fake GitHub; the plugins the
CLI finds on PATH; and the STAND-IN `dev` stack personal stacks read (its VPC, cluster and database cannot be made
here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.platform import SharedPlatform
from tests.support import gitrepo
from tests.support.fake_github import FakeGitHub
from tests.support.k8s_cluster import STORAGE_CLASS, Cluster
from tests.support.paths import ROOT
from tests.support.real_world import REPO

PASSPHRASE = "k8s-real-pass-phrase"


#: a stand-in value that must never be printed: the provisioner's password the stand-in dev stack exports
CANARY = "canary-Provisioner-9Xq#pw"



@dataclass
class World:
    repo: Path
    backend: Path
    tmp: Path
    cli_root: Path
    bin: Path
    cluster: Cluster
    gh: FakeGitHub
    outputs: list[str] = field(default_factory=list)
    shas: dict[str, str] = field(default_factory=dict)
    #: the values of the Secrets the program created in the cluster (read back with kubectl): never in any output
    secret_values: set[str] = field(default_factory=set)

    def env(self, **extra: str) -> dict[str, str]:
        path = os.pathsep.join([str(self.bin), str(self.cli_root / "bin"), str(Path(sys.executable).parent),
                                os.environ.get("PATH", "/usr/bin:/bin")])
        return {"PATH": path, "HOME": str(self.tmp / "home"), "LANG": "C.UTF-8",
                "PULUMI_BACKEND_URL": self.backend.as_uri(), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true", "GHOST_GITOPS_PULUMI_ROOT": str(self.cli_root),
                "PYTHONPATH": str(ROOT), "GITHUB_ACTOR": "alice", "GITHUB_TOKEN": "ghs_test", "GITHUB_REPOSITORY": REPO,
                "GITHUB_API_URL": self.gh.url, "GITHUB_STEP_SUMMARY": str(self.tmp / "summary.md"),
                # what the real CLI sends the policy pack, recorded (tests/support/analyzer_records.py; checked in test 10)
                "GHOST_GITOPS_ANALYZER_RECORD": str(self.tmp / "analyzer"), **extra}

    def engine(self, *args: str, event: tuple[str, dict[str, Any]] | None = None,
               timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = self.env()
        if event is not None:
            path = self.tmp / f"event-{time.monotonic_ns()}.json"
            path.write_text(json.dumps(event[1]))
            env.update(GITHUB_EVENT_NAME=event[0], GITHUB_EVENT_PATH=str(path))
        proc = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(self.repo), *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def pulumi(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.cli_root / "bin" / "pulumi"), *args, "--non-interactive"], cwd=cwd or self.repo,
                              env=self.env(), capture_output=True, text=True, timeout=300, check=False)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def stacks(self) -> set[str]:
        proc = self.pulumi("stack", "ls", "--json")
        assert proc.returncode == 0, proc.stderr
        return {s["name"] for s in json.loads(proc.stdout)}



def launchers(bin_: Path, provider: Path) -> None:
    """The plugins the CLI finds on PATH: the real pulumi-kubernetes provider and the pulumi-random stand-in."""
    bin_.mkdir()
    (bin_ / "pulumi-resource-kubernetes").symlink_to(provider / "bin" / "pulumi-resource-kubernetes")
    launcher = bin_ / "pulumi-resource-random"
    launcher.write_text(f"#!/bin/sh\n# STAND-IN for pulumi-random: tests/support/standins/random_provider.py\n"
                        f"PYTHONPATH={ROOT} exec {sys.executable} -u -m tests.support.standins.random_provider \"$@\"\n")
    launcher.chmod(0o755)



def stand_in_dev(w: World, **overrides: Any) -> None:
    """STAND-IN for the `dev` environment stack (its VPC, EKS cluster and RDS instance cannot be created here): a
    stack named dev in the same backend, exporting exactly the shared-platform contract personal stacks read,
    pointing at the local control plane. Made with the same CLI, by a program that only exports values."""
    work = w.tmp / "stand-in-dev"
    work.mkdir(exist_ok=True)
    (work / "Pulumi.yaml").write_text("name: ghost-gitops\nruntime: python\ndescription: STAND-IN for the dev stack's "
                                      "outputs (tests/real/test_k8s_real.py)\n")
    values: dict[str, Any] = {
        "kubeconfig": w.cluster.kubeconfig_json, "dbHost": "127.0.0.1", "dbPort": 3306,
        "dbProvisionerUser": "ghost_provisioner", "dbProvisionerPassword": CANARY,
        "storageClassName": STORAGE_CLASS, "personalIngressClassName": "alb-personal", "vpcCidr": "10.10.0.0/16",
        **overrides}
    assert set(values) == set(SharedPlatform.names()), "the stand-in exports the whole contract, nothing else"
    program = work / "stand_in.py"
    secrets = [n for n, secret in SharedPlatform.names().items() if secret]
    program.write_text(
        "import json, pulumi, sys\n"
        "from pulumi import automation as auto\n"
        f"values = json.loads({json.dumps(json.dumps(values))})\n"
        "def program():\n"
        f"    for k, v in values.items():\n"
        f"        pulumi.export(k, pulumi.Output.secret(v) if k in {secrets!r} else v)\n"
        "stack = auto.create_or_select_stack(stack_name='dev', project_name='ghost-gitops', program=program,\n"
        f"    opts=auto.LocalWorkspaceOptions(work_dir={str(work)!r},\n"
        f"        pulumi_command=auto.PulumiCommand(root={str(w.cli_root)!r})))\n"
        "stack.up(on_output=lambda _: None)\n")
    proc = subprocess.run([sys.executable, str(program)], cwd=work, env=w.env(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # what dev's add-ons create on the cluster (infra/addons.py): the personal stacks' ingress class
    w.cluster.kubectl("apply", "-f", "-", input_=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "alb-personal"},
        "spec": {"controller": "eks.amazonaws.com/alb"}}))



def project_repository(path: Path, policy_pack: bool = False) -> Path:
    """A git repository of this project (tests/support/gitrepo.py) that ignores what runs write: bytecode, local state and
    the stack files the engine writes for personal stacks; with ``policy_pack``, the project's pack too (every
    preview and up then runs it on the real provider's props)."""
    repo = gitrepo.project_repo(path, ROOT)
    if policy_pack:
        shutil.copytree(ROOT / "policypack", repo / "policypack", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text("__pycache__/\n.pulumi-state/\nPulumi.dev-*.yaml\n")
    gitrepo.git(repo, "add", "-A")
    gitrepo.git(repo, "commit", "-q", "-m", "ignore engine-written stack files")
    return repo
