"""The three workflows run by act (github.com/nektos/act, built by .ci/build-act) on this machine: the harness.

A test repository is made from this project: its real workflows (.github/workflows), engine (automation/),
requirements, pyproject.toml and .ci/ scripts, and, as the Pulumi program, the real-engine fixture project
(tests/data/fixture_project: dynamic providers whose cloud is a folder) in the same layout, because the program's AWS
resources cannot be deployed here and the scenarios must really apply, with its own tests
(tests/data/act_repository). The deploy gate's tiers run for real: `bash .ci/test fast|cli` is the project's own test
command (ruff, mypy, import-linter, pytest on the test repository's tests; the installed CLI). Only the heavy tiers
(k8s, db, act) are a STAND-IN that records that the job ran (TEST_STANDIN): the real suite is what runs these
scenarios, so running its heavy tiers inside each pull request's test jobs would recurse (about 15 minutes each).

act runs in host mode (``-P ubuntu-latest=-self-hosted``: every step on this machine, no Docker) with the
marketplace actions replaced by the stand-ins in tests/support/standins/actions (``--local-repository``), the secrets and
variables a repository would hold (``-s``, ``--var``; act has no GitHub environments, so environment-scoped
secrets, variables and protection rules are not exercised), the local GitHub API test server as GITHUB_API_URL,
and a scratch HOME (act's own work directories, the workflows' ``~/.cache/ghost-gitops``) with the machine's Go
caches and pip's wheel source kept.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import gitrepo
from tests.support.fake_github import FakeGitHub, serve
from tests.support.paths import ACT_REPOSITORY, FIXTURE_PROJECT, ROOT
from tests.support.realdb import _need

STANDINS = ROOT / "tests" / "support" / "standins" / "actions"
ACT_VERSION = "v0.2.89"
REPO = "acme/blog"
PASSPHRASE = "act-scenarios-pass-phrase"
TOKEN = "ghs_act_scenarios_token"
#: the marketplace actions the workflows use -> their stand-in directories
ACTIONS = {"actions/checkout@v4": "checkout", "actions/setup-python@v5": "setup-python", "actions/setup-go@v5": "setup-go",
           "actions/cache@v4": "cache", "aws-actions/configure-aws-credentials@v4": "configure-aws-credentials",
           "pulumi/actions@v6": "pulumi-actions"}
TEST_STANDIN = """#!/usr/bin/env bash
# The project's test command in the act scenarios' test repository (tests/support/workflows_act.py). The deploy gate's
# tiers (fast, cli) run for real: the project's own .ci/test, unchanged (copied as .ci/test-project), on this
# repository's tests (tests/data/act_repository). The heavy tiers (k8s, db, act) are a STAND-IN that only records
# that the job ran: the real suite is what runs these scenarios, and running its heavy tiers inside each pull
# request's test jobs would recurse (about 15 minutes each). Every call is recorded with its tier.
set -euo pipefail
echo "$GITHUB_WORKFLOW/$GITHUB_JOB ${1:-all} $GITHUB_SHA" >> "${STANDIN_CACHE_ROOT:?}/test-jobs.log"
case "${1:-all}" in
  fast|cli) exec bash "$(dirname "$0")/test-project" "$@" ;;
  *) echo "test stand-in: the ${1:-all} tier runs outside act (the project's own suite runs these scenarios)" ;;
esac
"""


def act_binary() -> Path:
    """act from .ci/build-act: a failure in CI, a skip elsewhere, naming what provides it."""
    cache = Path(os.environ.get("GHOST_GITOPS_CACHE") or Path.home() / ".cache" / "ghost-gitops")
    exe = cache / "act" / ACT_VERSION / "bin" / "act"
    _need(exe.is_file(), f"act {ACT_VERSION} is not built at {exe}", provided_by="bash .ci/build-act")
    return exe


@dataclass
class Run:
    """One act run: its exit code, each job's result (``workflow/job`` -> success|failure; jobs act skipped are
    absent) and the output of every step, as act's JSON log reports them."""

    code: int
    jobs: dict[str, str]
    steps: list[dict[str, Any]]
    log: str

    def output(self, job: str) -> str:
        """Everything the steps of ``job`` (its id in the workflow; every matrix entry of it) printed."""
        return "\n".join(s.get("msg", "") for s in self.steps if s.get("jobID") == job)


@dataclass
class ActWorld:
    tmp: Path
    repo: Path
    act: Path
    gh: FakeGitHub
    backend: Path
    cloud: Path
    cache_root: Path
    home: Path
    #: the locally built Pulumi CLI (.ci/build-pulumi): what the pulumi/actions stand-in puts on PATH
    cli_root: Path
    runs: list[Run] = field(default_factory=list)
    shas: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "PIP_FIND_LINKS", "PIP_DEFAULT_TIMEOUT",
                                                                 "SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")}
        go = {k: subprocess.run(["go", "env", k], capture_output=True, text=True, check=True).stdout.strip()
              for k in ("GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB")} if shutil.which("go") else {}
        return {**keep, **go, "HOME": str(self.home), "CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}

    def act_run(self, event: str, payload: dict[str, Any], workflow: str, *, actor: str = "alice",
                extra: tuple[str, ...] = ()) -> Run:
        """Run ``workflow`` for ``event`` with ``payload`` (GITHUB_EVENT_PATH's shape) from the test repository."""
        path = self.tmp / f"event-{len(self.runs)}.json"
        path.write_text(json.dumps(payload))
        env = self.env()
        args = [str(self.act), event, "-W", str(self.repo / ".github" / "workflows" / workflow), "-e", str(path),
                "-P", "ubuntu-latest=-self-hosted", "--json", "-a", actor,
                "--no-skip-checkout",  # act skips actions/checkout of the local repository unless told not to
                "-s", f"GITHUB_TOKEN={TOKEN}", "-s", f"PULUMI_CONFIG_PASSPHRASE={PASSPHRASE}",
                "--var", f"PULUMI_BACKEND_URL={self.backend.as_uri()}", "--var", "AWS_REGION=us-east-1",
                "--var", "AWS_ROLE_ARN=arn:aws:iam::000000000000:role/ghost-gitops-stand-in",
                "--env", f"GITHUB_API_URL={self.gh.url}", "--env", f"STANDIN_GIT_REMOTE={self.repo.as_uri()}",
                "--env", f"STANDIN_CACHE_ROOT={self.cache_root}", "--env", f"STANDIN_PULUMI_ROOT={self.cli_root}",
                *[f"--env={k}={v}" for k, v in env.items() if k.startswith("GO")],
                *extra]
        for action, folder in ACTIONS.items():
            args += ["--local-repository", f"{action}={STANDINS / folder}"]
        proc = subprocess.run(args, cwd=self.repo, env=env, capture_output=True, text=True, timeout=1800, check=False)
        jobs: dict[str, str] = {}
        steps: list[dict[str, Any]] = []
        for line in proc.stdout.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "jobResult" in entry:
                jobs[str(entry.get("job")).strip()] = str(entry["jobResult"])  # act pads names to align its log
            if entry.get("jobID"):
                steps.append(entry)
        run = Run(code=proc.returncode, jobs=jobs, steps=steps, log=proc.stdout + proc.stderr)
        self.runs.append(run)
        return run

    def engine(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """The engine run directly on the backend (to read what the workflows did: history, stacks)."""
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home), "PULUMI_BACKEND_URL": self.backend.as_uri(),
               "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "PULUMI_SKIP_UPDATE_CHECK": "true",
               "GHOST_GITOPS_PULUMI_ROOT": str(self.cli_root), **(extra_env or {})}
        return subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "automation", "--project-dir",
                               str(self.repo), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                              check=False)

    def history(self, stack: str) -> list[dict[str, Any]]:
        proc = self.engine("history", "--stack", stack, "--json")
        if proc.returncode != 0:
            return []
        return list(json.loads(proc.stdout)["updates"])

    def records(self, kind: str) -> list[dict[str, Any]]:
        folder = self.cloud / kind
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def make_repository(tmp: Path, cli: Path, health_url: str) -> tuple[Path, Path, Path]:
    """The test repository (the project's workflows, engine, policy pack, requirements, pyproject.toml, .gitignore and
    .ci scripts; the fixture program and environments.yaml; its own tests; the test command routing the heavy tiers to
    the stand-in), its file:// backend and the fixture's cloud folder. Its dev stack file holds a secure value set
    through the real CLI."""
    repo, backend, cloud, scratch = tmp / "repo", tmp / "state", tmp / "cloud", tmp / "scratch-state"
    for d in (backend, cloud, scratch):
        d.mkdir()
    repo.mkdir()
    for item in (".github", "automation", ".ci", "requirements.txt", "requirements-dev.txt", "pyproject.toml", ".gitignore",
                 "policypack"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / item)
    for entry in FIXTURE_PROJECT.iterdir():
        if entry.name != "__pycache__":
            shutil.copy2(entry, repo / entry.name)
    shutil.copytree(ACT_REPOSITORY / "tests", repo / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".ci" / "test").rename(repo / ".ci" / "test-project")
    (repo / ".ci" / "test").write_text(TEST_STANDIN)
    # kubernetesVersion 1.34 (past its end of standard support, 2026-12-02): the nightly version issue of dev
    (repo / "Pulumi.dev.yaml").write_text(f"config:\n  fixture:cloudDir: {cloud}\n  fixture:healthUrl: {health_url}\n"
                                          "  fixture:zones:\n    - zone-a\n    - zone-b\n"
                                          "  fixture:kubernetesVersion: \"1.34\"\n")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "PULUMI_BACKEND_URL": scratch.as_uri(),
           "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    for args in (["stack", "init", "dev"], ["config", "set", "--secret", "apiToken", "act-canary-token", "--stack", "dev"]):
        subprocess.run([str(cli), *args, "--non-interactive"], cwd=repo, env=env, check=True, capture_output=True, text=True)
    gitrepo.git(repo, "init", "-q", "-b", "main")
    gitrepo.git(repo, "config", "uploadpack.allowAnySHA1InWant", "true")  # GitHub serves any commit by SHA
    gitrepo.git(repo, "remote", "add", "origin", f"https://github.com/{REPO}.git")  # act reads the repository name
    gitrepo.git(repo, "add", "-A")
    gitrepo.git(repo, "commit", "-q", "-m", "the project, with the fixture program")
    return repo, backend, cloud


@contextmanager
def act_world(tmp: Path, cli: Path, health_url: str) -> Iterator[ActWorld]:
    act = act_binary()
    repo, backend, cloud = make_repository(tmp, cli, health_url)
    home, cache_root = tmp / "home", tmp / "standin-cache"
    home.mkdir()
    cache_root.mkdir()
    with serve(FakeGitHub()) as gh:
        yield ActWorld(tmp=tmp, repo=repo, act=act, gh=gh, backend=backend, cloud=cloud, cache_root=cache_root,
                       home=home, cli_root=cli.parent.parent)


def repo_info() -> dict[str, Any]:
    return {"id": 1, "name": "blog", "full_name": REPO, "private": True, "fork": False,
            "owner": {"login": "acme", "type": "Organization"}, "default_branch": "main"}


def push(branch: str, before: str, after: str, message: str, created: bool = False) -> dict[str, Any]:
    """A push as GITHUB_EVENT_PATH holds it: commits WITHOUT added/removed/modified (GitHub's docs for the event)."""
    commit = {"id": after, "distinct": True, "message": message, "timestamp": "2026-11-29T10:00:00Z",
              "author": {"name": "Alice", "email": "alice@example.com", "username": "alice"},
              "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"}}
    return {"ref": f"refs/heads/{branch}", "before": "0" * 40 if created else before, "after": after,
            "base_ref": None, "created": created, "deleted": False, "forced": False, "commits": [commit],
            "head_commit": commit, "pusher": {"name": "alice", "email": "alice@example.com"},
            "repository": repo_info(), "sender": {"login": "alice", "id": 2, "type": "User"}}


def pull_request(action: str, number: int, title: str, head: str, head_sha: str, base_sha: str) -> dict[str, Any]:
    side = {"user": {"login": "acme"}, "repo": repo_info()}
    pr = {"number": number, "title": title, "user": {"login": "alice", "id": 2, "type": "User"}, "draft": False,
          "merged": False, "state": "open", "head": {**side, "ref": head, "sha": head_sha, "label": f"acme:{head}"},
          "base": {**side, "ref": "main", "sha": base_sha, "label": "acme:main"}}
    return {"action": action, "number": number, "pull_request": pr, "repository": repo_info(),
            "sender": {"login": "alice", "id": 2, "type": "User"}}


def delete(branch: str) -> dict[str, Any]:
    return {"ref": branch, "ref_type": "branch", "pusher_type": "user", "repository": repo_info(),
            "sender": {"login": "alice", "id": 2, "type": "User"}}


def dispatch(ref: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """workflow_dispatch as a workflow receives it: inputs (booleans as booleans), ref, repository, sender."""
    return {"inputs": inputs, "ref": f"refs/heads/{ref}", "repository": repo_info(),
            "sender": {"login": "carol", "id": 3, "type": "User"}, "workflow": ".github/workflows/deploy.yml"}


def schedule(cron: str = "17 5 * * *") -> dict[str, Any]:
    return {"schedule": cron, "repository": repo_info()}
