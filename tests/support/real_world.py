"""The real-CLI story's world: the fixture project in a git repository, a file:// backend, the local GitHub and health
servers, and the events a workflow receives (GITHUB_EVENT_PATH), shaped as GitHub documents them: ``push`` commits carry
no added/removed/modified lists; ``delete`` has ``ref``/``ref_type``; ``pull_request`` is the webhook's pull request
object. Used by the cli tier (tests/real/) and the k8s tier's world (tests/support/k8s_world.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import gitrepo
from tests.support.fake_github import FakeGitHub
from tests.support.health_server import HealthServer
from tests.support.paths import ROOT

PASSPHRASE = "canary-pass-phrase-8c1"
REPO = "acme/fixture"


@dataclass
class World:
    repo: Path
    backend: Path
    cloud: Path
    tmp: Path
    cli: Path
    gh: FakeGitHub
    health: HealthServer
    outputs: list[str] = field(default_factory=list)  # everything any run printed or published
    shas: dict[str, str] = field(default_factory=dict)

    @property
    def backend_url(self) -> str:
        return self.backend.as_uri()

    def env(self, **extra: str) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.tmp / "home"), "LANG": "C.UTF-8",
               "PULUMI_BACKEND_URL": self.backend_url, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
               "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true", "GHOST_GITOPS_PULUMI_ROOT": str(self.cli.parent.parent),
               "GITHUB_TOKEN": "ghs_test", "GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": self.gh.url,
               "GITHUB_STEP_SUMMARY": str(self.tmp / "summary.md"), "GITHUB_ACTOR": "carol"}
        env.update(extra)
        return env

    def engine(self, *args: str, event: tuple[str, dict[str, Any]] | None = None, timeout: float = 300,
               **extra: str) -> subprocess.CompletedProcess[str]:
        env = self.env(**extra)
        if event is not None:
            path = self.tmp / f"event-{time.monotonic_ns()}.json"
            path.write_text(json.dumps(event[1]))
            env.update(GITHUB_EVENT_NAME=event[0], GITHUB_EVENT_PATH=str(path))
        proc = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(self.repo), *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "automation", "--project-dir", str(self.repo), *args],
                                cwd=ROOT, env=self.env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = self.env()
        env["PATH"] = f"{self.cli.parent}{os.pathsep}{env['PATH']}"
        proc = subprocess.run([str(self.cli), *args, "--non-interactive"], cwd=self.repo, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed: {proc.stderr}")
        return proc

    def stacks(self) -> set[str]:
        return {s["name"] for s in json.loads(self.pulumi("stack", "ls", "--json").stdout)}

    def history(self, stack: str) -> list[dict[str, Any]]:
        proc = self.engine("history", "--stack", stack, "--json")
        assert proc.returncode == 0, proc.stderr
        return list(json.loads(proc.stdout)["updates"])

    def records(self, kind: str) -> list[dict[str, Any]]:
        folder = self.cloud / kind
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def repo_info() -> dict[str, Any]:
    return {"id": 1, "name": "fixture", "full_name": REPO, "private": True, "fork": False,
            "owner": {"login": "acme", "type": "Organization"}, "default_branch": "main"}


def push_event(world: World, branch: str, before: str, after: str, message: str, created: bool = False) -> tuple[str, dict[str, Any]]:
    """A push as GITHUB_EVENT_PATH holds it: commits WITHOUT added/removed/modified (GitHub's push event docs)."""
    commit = {"id": after, "tree_id": gitrepo.git(world.repo, "rev-parse", f"{after}^{{tree}}"), "distinct": True,
              "message": message, "timestamp": "2026-11-27T10:00:00Z",
              "author": {"name": "Alice", "email": "alice@example.com", "username": "alice"},
              "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"}}
    return "push", {"ref": f"refs/heads/{branch}", "before": "0" * 40 if created else before, "after": after,
                    "base_ref": None, "created": created, "deleted": False, "forced": False,
                    "compare": f"https://github.com/{REPO}/compare/x...y", "commits": [commit], "head_commit": commit,
                    "pusher": {"name": "alice", "email": "alice@example.com"}, "repository": repo_info(),
                    "sender": {"login": "alice", "id": 2, "type": "User"}}


def pr_event(number: int, title: str, head: str, head_sha: str, base_sha: str) -> tuple[str, dict[str, Any]]:
    side = {"user": {"login": "acme"}, "repo": repo_info()}
    pr = {"number": number, "title": title, "user": {"login": "alice", "id": 2, "type": "User"}, "draft": False,
          "merged": False, "state": "open", "head": {**side, "ref": head, "sha": head_sha, "label": f"acme:{head}"},
          "base": {**side, "ref": "main", "sha": base_sha, "label": "acme:main"}}
    return "pull_request", {"action": "opened", "number": number, "pull_request": pr, "repository": repo_info(),
                            "sender": {"login": "alice", "id": 2, "type": "User"}}


def delete_event(branch: str) -> tuple[str, dict[str, Any]]:
    return "delete", {"ref": branch, "ref_type": "branch", "pusher_type": "user", "repository": repo_info(),
                      "sender": {"login": "alice", "id": 2, "type": "User"}}


def set_config(world: World, key: str, value: str) -> None:
    path = world.repo / "Pulumi.dev.yaml"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith(f"  fixture:{key}:")]
    lines.insert(lines.index("config:") + 1, f"  fixture:{key}: {value}")
    path.write_text("\n".join(lines) + "\n")
