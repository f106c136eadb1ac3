"""The GitOps story on the REAL Pulumi CLI (built from the Go module proxy by .ci/build-pulumi).

Everything runs through ``python -m automation`` in subprocesses, exactly as the workflows call it,
against a fixture project (tests/data/fixture_project) in a temporary git repository, a ``file://``
backend, the passphrase secrets provider and the local GitHub API test server. The fixture's
resources are Python dynamic providers whose "cloud" is a folder.

Payload shapes follow GitHub's documentation of the events as a workflow receives them
(GITHUB_EVENT_PATH): ``push`` commits carry no added/removed/modified lists; ``delete`` has
``ref``/``ref_type``; ``pull_request`` is the webhook's pull request object.

The tests are one story and run in file order (module-scoped state).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import gitrepo, health_server
from tests.support.fake_github import FakeGitHub, serve
from tests.support.health_server import HealthServer
from tests.support.paths import FIXTURE_PROJECT
from tests.support.real_world import PASSPHRASE, World, delete_event, pr_event, push_event, repo_info, set_config
from tests.support.realcli import require_cli

pytestmark = pytest.mark.cli

CANARY = "canary-5ecret-Zq9#token"  # a secure: config value and a secret output
ROTATED = CANARY + "-rotated"  # the token after test 4c's rotation


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    choice = require_cli()
    tmp = tmp_path_factory.mktemp("real-engine")
    repo, backend, cloud, scratch = tmp / "repo", tmp / "state", tmp / "cloud", tmp / "scratch-state"
    for d in (backend, cloud, scratch, tmp / "home"):
        d.mkdir()
    shutil.copytree(FIXTURE_PROJECT, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text("__pycache__/\n.pulumi-state/\nPulumi.dev-*.yaml\n")
    with serve(FakeGitHub()) as gh, health_server.serve(HealthServer(require_https_header=True)) as health:
        (repo / "Pulumi.dev.yaml").write_text(f"config:\n  fixture:cloudDir: {cloud}\n  fixture:healthUrl: {health.url}\n"
                                              "  fixture:zones:\n    - zone-a\n    - zone-b\n")
        w = World(repo=repo, backend=backend, cloud=cloud, tmp=tmp, cli=choice.path, gh=gh, health=health)
        # The secure value is set through the real CLI, in a scratch backend: the stack file keeps the
        # passphrase salt, so the stack created later in the real backend decrypts it unchanged.
        env = w.env(PULUMI_BACKEND_URL=scratch.as_uri())
        for args in (["stack", "init", "dev"], ["config", "set", "--secret", "apiToken", CANARY, "--stack", "dev"]):
            subprocess.run([str(choice.path), *args, "--non-interactive"], cwd=repo, env=env, check=True,
                           capture_output=True, text=True)
        assert "secure:" in (repo / "Pulumi.dev.yaml").read_text()
        gitrepo.git(repo, "init", "-q", "-b", "main")
        gitrepo.git(repo, "add", "-A")
        gitrepo.git(repo, "commit", "-q", "-m", "fixture project")
        w.shas["initial"] = gitrepo.git(repo, "rev-parse", "HEAD")
        yield w


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    reports = json.loads(proc.stdout)["reports"]
    assert len(reports) == 1, reports
    return dict(reports[0])


def _changes(report: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """name -> (op, changed keys) of the program's resources (the default provider left out)."""
    return {c["name"]: (c["op"], c["keys"]) for c in report["changes"] if not c["type"].startswith("pulumi:providers:")}


def test_1_pull_request_previews_without_creating_anything(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "-b", "feature/first")
    set_config(world, "greeting", "hi")
    head = gitrepo.commit(repo, {}, "Say hi")
    proc = world.engine("run", "--json", event=pr_event(1, "Say hi", "feature/first", head, world.shas["initial"]))
    report = _report(proc)
    assert report["status"] == "succeeded" and report["operation"] == "preview" and report["stack"] == "dev"
    assert _changes(report) == {"fixture-dev": ("create", []), "database": ("create", []),
                                "settings": ("create", []), "token": ("create", [])}
    comment = next(iter(world.gh.comments.values()))["body"]
    assert "`database`" in comment and "`settings`" in comment and "pulumi-python:dynamic:Resource" in comment
    assert f"<!-- ghost-gitops:plan v1 stack=dev commit={head} digest=" in comment
    # a preview creates no stack, writes no tags, adds nothing to history, touches no "cloud"
    assert world.stacks() == set()
    assert world.records("record") == [] and world.records("database") == []
    assert gitrepo.git(repo, "status", "--porcelain") == ""
    world.shas["pr1"] = head


def test_2_push_to_main_deploys_with_audit_and_tags(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "main")
    gitrepo.git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from acme/feature/first\n\nSay hi",
                "feature/first")
    merge = gitrepo.git(repo, "rev-parse", "HEAD")
    # GET /repos/{owner}/{repo}/commits/{sha}/pulls: pull request objects, with head.sha (GitHub REST docs)
    world.gh.commit_pulls = [{"number": 1, "title": "Say hi", "user": {"login": "alice"}, "merged_at": "2026-11-27T10:00:00Z",
                              "state": "closed", "base": {"ref": "main"}, "head": {"ref": "feature/first",
                                                                                 "sha": world.shas["pr1"]}}]
    world.gh.reviews = [{"user": {"login": "bob"}, "state": "APPROVED"}]
    proc = world.engine("run", "--json", event=push_event(world, "main", world.shas["initial"], merge, "Merge pull request #1"))
    report = _report(proc)
    assert report["status"] == "succeeded" and report["operation"] == "up"
    assert report["outputs"]["token"] == "[secret]" and report["outputs"]["zones"] == ["zone-a", "zone-b"]
    # what was applied is what was reviewed on #1 (its comment's hidden fingerprint), and the blog answers
    assert any(n.startswith("the plan matches the preview reviewed on #1 at " + world.shas["pr1"][:7]) for n in report["notes"]), report
    assert report["health"]["healthy"] is True and report["health"]["url"] == world.health.url
    history = world.history("dev")
    assert len(history) == 1 and history[0]["commit"] == merge and history[0]["result"] == "succeeded"
    assert history[0]["message"].startswith(f"main@{merge[:7]}: Say hi (#1) by alice, approved by bob")
    tags = json.loads(world.pulumi("stack", "tag", "ls", "--json", "--stack", "dev").stdout)
    assert tags.get("gitops:commit") == merge and tags.get("gitops:pr") == "1"
    assert [r["content"] for r in world.records("record") if r["content"].startswith("hi")] == ["hi zone-a,zone-b"]
    world.shas["merge1"] = merge


def test_3_later_pull_request_shows_update_keys_and_stateful_replacement(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "-b", "feature/second")
    set_config(world, "greeting", "hello again")
    set_config(world, "databaseName", "renamed")
    head = gitrepo.commit(repo, {}, "Rename the database")
    world.gh.comments.clear()
    proc = world.engine("run", "--json", event=pr_event(2, "Rename the database", "feature/second", head, world.shas["merge1"]))
    report = _report(proc)
    changes = _changes(report)
    assert changes["settings"] == ("update", ["content"])
    assert changes["database"][0] == "replace" and "db_name" in changes["database"][1]
    # values from the real CLI's step events: old → new, and the property that forces the replacement
    values = {c["name"]: c for c in report["changes"]}
    assert values["settings"]["properties"] == [{"path": "content", "old": "hi zone-a,zone-b",
                                                 "new": "hello again zone-a,zone-b", "forces_replacement": False}]
    assert values["database"]["replaced_by"] == ["db_name"]
    assert {"path": "db_name", "old": "app", "new": "renamed", "forces_replacement": True} in values["database"]["properties"]
    comment = next(iter(world.gh.comments.values()))["body"]
    top = comment.split("| create |")[0]
    # the stateful replacement and its cause are called out before anything else
    assert "`database` (replace because of `db_name` (`app` → `renamed`))" in top, top
    assert "| `content` | `hi zone-a,zone-b` | `hello again zone-a,zone-b` |" in comment
    # still nothing written by the preview: same history, same tags
    assert len(world.history("dev")) == 1
    tags = json.loads(world.pulumi("stack", "tag", "ls", "--json", "--stack", "dev").stdout)
    assert tags["gitops:commit"] == world.shas["merge1"]
    world.shas["pr2"] = head


def test_4_newer_push_then_a_late_run_is_superseded_and_rollback_is_audited(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "main")
    gitrepo.git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #2 from acme/feature/second", "feature/second")
    merge2 = gitrepo.git(repo, "rev-parse", "HEAD")
    world.gh.commit_pulls = [{"number": 2, "title": "Rename the database", "user": {"login": "alice"},
                              "merged_at": "2026-11-27T11:00:00Z", "state": "closed", "base": {"ref": "main"},
                              "head": {"ref": "feature/second", "sha": world.shas["pr2"]}}]
    report = _report(world.engine("run", "--json", event=push_event(world, "main", world.shas["merge1"], merge2, "Merge #2")))
    assert report["status"] == "succeeded"
    assert any(n.startswith("the plan matches the preview reviewed on #2") for n in report["notes"]), report
    assert [r["db_name"] for r in world.records("database")] == ["renamed"]
    # the run for the older merge arrives late, on a runner that checked out that commit
    gitrepo.git(repo, "checkout", "-q", world.shas["merge1"])
    late = world.engine("run", "--json", event=push_event(world, "main", world.shas["initial"], world.shas["merge1"], "late"))
    report = _report(late)
    assert report["status"] == "superseded" and merge2[:7] in report["reason"]
    assert len(world.history("dev")) == 2
    # an explicit rollback of that older commit deploys it, and says so in the audit
    rolled = world.engine("up", "--stack", "dev", "--rollback", "--json", GITHUB_ACTOR="carol")
    report = _report(rolled)
    assert report["status"] == "succeeded"
    history = world.history("dev")
    assert history[0]["commit"] == world.shas["merge1"]
    assert history[0]["message"].startswith(f"rollback to {world.shas['merge1'][:7]} by carol")
    assert [r["db_name"] for r in world.records("database")] == ["app"]
    gitrepo.git(repo, "checkout", "-q", "main")
    world.shas["merge2"] = merge2


def test_4b_guarded_rollback_refuses_a_stateful_replacement_unless_allowed(world: World) -> None:
    """dev runs merge1 again (the rollback of test 4); rolling back once more means merge2, whose database name
    differs: the preview shows the stateful database replaced, so the guard refuses (exit 6) without the flag."""
    refused = world.engine("rollback", "--stack", "dev", "--reason", "bad release", GITHUB_ACTOR="dave")
    assert refused.returncode == 6, (refused.stdout, refused.stderr)
    assert "database" in refused.stderr and "--allow-stateful-changes" in refused.stderr
    assert world.history("dev")[0]["commit"] == world.shas["merge1"], "nothing was deployed"
    assert world.engine("rollback", "--stack", "dev", "--to", "f" * 40, "--reason", "x").returncode == 2
    allowed = world.engine("rollback", "--stack", "dev", "--reason", "bad release", "--allow-stateful-changes", "--json",
                           GITHUB_ACTOR="dave")
    report = _report(allowed)
    assert report["status"] == "succeeded" and report["commit"] == world.shas["merge2"]
    latest = world.history("dev")[0]
    assert latest["commit"] == world.shas["merge2"]
    assert latest["message"] == f"rollback of dev to {world.shas['merge2'][:7]} by dave: bad release"
    assert [r["db_name"] for r in world.records("database")] == ["renamed"]
    assert "ghost-gitops-wt-" not in gitrepo.git(world.repo, "worktree", "list"), "the worktree is removed"


def test_4c_a_merge_whose_plan_differs_from_the_reviewed_preview_is_refused_then_accepted(world: World) -> None:
    """PR #3 is previewed (settings update); then the base moves (a token rotation lands on main directly). The merge's
    plan now also updates the token: not what was reviewed, so nothing is applied (exit 7) until accepted with a reason."""
    repo = world.repo
    base = gitrepo.git(repo, "rev-parse", "HEAD")
    gitrepo.git(repo, "checkout", "-q", "-b", "feature/third")
    set_config(world, "greeting", "hello third")
    head = gitrepo.commit(repo, {}, "Third greeting")
    world.gh.comments.clear()
    preview = _report(world.engine("run", "--json", event=pr_event(3, "Third greeting", "feature/third", head, base)))
    assert _changes(preview) == {"settings": ("update", ["content"])}
    gitrepo.git(repo, "checkout", "-q", "main")
    world.pulumi("config", "set", "--secret", "apiToken", ROTATED, "--stack", "dev")
    gitrepo.commit(repo, {}, "Rotate the token")
    gitrepo.git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #3 from acme/feature/third", "feature/third")
    merge3 = gitrepo.git(repo, "rev-parse", "HEAD")
    world.gh.commit_pulls = [{"number": 3, "title": "Third greeting", "user": {"login": "alice"}, "state": "closed",
                              "merged_at": "2026-11-27T12:00:00Z", "base": {"ref": "main"},
                              "head": {"ref": "feature/third", "sha": head}}]
    before = len(world.history("dev"))
    event = push_event(world, "main", base, merge3, "Merge pull request #3")
    refused = world.engine("run", "--json", event=event)
    assert refused.returncode == 7, (refused.stdout, refused.stderr)
    (report,) = json.loads(refused.stdout)["reports"]
    assert report["status"] == "refused" and "--accept-plan-change" in report["error"]
    assert any(n.startswith("+ update") and "token" in n for n in report["notes"]), report["notes"]
    assert len(world.history("dev")) == before, "nothing was applied"
    summary = (world.tmp / "summary.md").read_text()
    assert "the plan differs from the preview reviewed on #3" in summary
    # the override as deploy.yml runs it: workflow_dispatch (GitHub's payload: inputs, ref; the commit in GITHUB_SHA)
    # with the accept_plan_change input passed as --accept-plan-change; the PR is found from the commit
    dispatch = ("workflow_dispatch", {"inputs": {"stack": "dev", "operation": "up", "sha": "",
                                                 "accept_plan_change": "token rotation reviewed in SEC-12"},
                                      "ref": "refs/heads/main", "repository": repo_info(),
                                      "sender": {"login": "carol", "id": 3, "type": "User"},
                                      "workflow": ".github/workflows/deploy.yml"})
    accepted = _report(world.engine("run", "--json", "--only-stack", "dev", "--accept-plan-change",
                                    "token rotation reviewed in SEC-12", event=dispatch, GITHUB_SHA=merge3))
    assert accepted["status"] == "succeeded"
    # the rotated secret changed, and that is all anyone sees of it
    token = next(c for c in accepted["changes"] if c["name"] == "token")
    assert token["properties"] == [{"path": "content", "old": "[secret]", "new": "[secret]", "forces_replacement": False}]
    assert any(n.startswith("the plan differs from the preview reviewed on #3") for n in accepted["notes"]), accepted
    latest = world.history("dev")[0]
    assert latest["commit"] == merge3
    assert "[plan differs from the reviewed one; accepted by carol: token rotation reviewed in SEC-12]" in latest["message"]
    assert "started by hand (workflow_dispatch)" in latest["message"]
    world.shas["merge3"] = merge3


def test_4d_health_check_after_up_and_one_automatic_rollback(world: World) -> None:
    """Booting then healthy, and redirected: healthy. A release that breaks the blog is rolled back once, to the
    last healthy commit; a blog that stays down after the rollback is left to a person (no loop)."""
    repo = world.repo
    world.health.mode, world.health.booting_left = "booting", 3
    booting = _report(world.engine("up", "--stack", "dev", "--json"))
    assert booting["health"]["healthy"] and booting["health"]["attempts"] == 4, booting["health"]
    world.health.mode = "redirect"
    redirected = _report(world.engine("up", "--stack", "dev", "--json"))
    assert redirected["health"]["healthy"] and "redirect" in redirected["health"]["detail"]
    tags = json.loads(world.pulumi("stack", "tag", "ls", "--json", "--stack", "dev").stdout)
    assert tags["gitops:healthy-commit"] == world.shas["merge3"] and tags["gitops:health"].startswith("healthy at ")

    def broken() -> bool:  # the blog is down while the deployed settings say "broken"
        return not any("broken" in r["content"] for r in world.records("record"))

    world.health.mode, world.health.judge = "judge", broken
    set_config(world, "greeting", "hello broken")
    bad = gitrepo.commit(repo, {}, "A release that breaks the blog")
    before = len(world.history("dev"))
    proc = world.engine("run", "--json", "--branch", "main", "--sha", bad, "--before", world.shas["merge3"])
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    (report,) = json.loads(proc.stdout)["reports"]
    assert report["status"] == "unhealthy" and not report["health"]["healthy"]
    assert report["rollback"].startswith(f"rolled back to {world.shas['merge3'][:7]}, healthy again"), report["rollback"]
    history = world.history("dev")
    assert len(history) == before + 2 and history[0]["commit"] == world.shas["merge3"]
    assert history[0]["message"].startswith(f"rollback of dev to {world.shas['merge3'][:7]} by ghost-gitops (automatic)")
    assert not any("broken" in r["content"] for r in world.records("record"))
    # the blog stays down whatever is deployed: one rollback, then a person is needed
    world.health.mode = "down"
    gitrepo.git(repo, "checkout", "-q", "-B", "main", world.shas["merge3"])
    set_config(world, "greeting", "hello down")
    down = gitrepo.commit(repo, {}, "Another release")
    before = len(world.history("dev"))
    proc = world.engine("run", "--json", "--branch", "main", "--sha", down, "--before", world.shas["merge3"])
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    (report,) = json.loads(proc.stdout)["reports"]
    assert report["status"] == "unhealthy" and "needs a person" in report["rollback"], report["rollback"]
    history = world.history("dev")
    assert len(history) == before + 2, "exactly one rollback, never a loop"
    assert [h["message"].startswith("rollback of dev") for h in history[:2]] == [True, False]
    tags = json.loads(world.pulumi("stack", "tag", "ls", "--json", "--stack", "dev").stdout)
    assert tags["gitops:health"].startswith("unhealthy at ")
    # back to a healthy blog on main's head, for the rest of the story
    world.health.mode = "healthy"
    gitrepo.git(repo, "checkout", "-q", "-B", "main", world.shas["merge3"])
    assert _report(world.engine("up", "--stack", "dev", "--json"))["health"]["healthy"]


def test_5_personal_branch_gets_its_stack_from_the_template_and_is_destroyed_on_delete(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "-b", "dev/alice")
    head = gitrepo.commit(repo, {"NOTES.md": "alice's branch\n"}, "Start alice")
    report = _report(world.engine("run", "--json", event=push_event(world, "dev/alice", "", head, "Start alice", created=True)))
    assert report["stack"] == "dev-alice" and report["operation"] == "up" and report["status"] == "succeeded"
    outputs = report["outputs"]
    assert outputs["zones"] == ["zone-a", "zone-b"], "the template's array must stay an array"
    assert outputs["environment"] == "personal" and outputs["token"] == "[secret]"
    assert outputs["sharedZones"] == ["zone-a", "zone-b"], "the shared stack is read through its backend name"
    stack_file = (repo / "Pulumi.dev-alice.yaml").read_text()
    assert "secure:" in stack_file and "organization/fixture/dev" in stack_file
    tokens = [r["content"] for r in world.records("record") if r["content"] == ROTATED]
    assert len(tokens) == 2, "the template's secure value reaches the personal stack intact"
    assert "dev-alice" in world.stacks()
    gitrepo.git(repo, "checkout", "-q", "main")
    gitrepo.git(repo, "branch", "-q", "-D", "dev/alice")
    report = _report(world.engine("run", "--json", event=delete_event("dev/alice")))
    assert report["operation"] == "destroy" and report["status"] == "succeeded"
    assert world.stacks() == {"dev"}
    # the rule's before_destroy_config ran an `up` in teardown mode first
    assert [r["content"] for r in world.records("record") if r["content"].startswith("torn down")] == ["torn down dev-alice"]
    assert len([r for r in world.records("record") if r["content"] == ROTATED]) == 1


def test_6_expire_and_history_use_real_timestamps(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "-b", "dev/bob")
    head = gitrepo.commit(repo, {"BOB.md": "bob\n"}, "Start bob")
    assert _report(world.engine("run", "--json", event=push_event(world, "dev/bob", "", head, "bob", created=True)))["status"] == "succeeded"
    gitrepo.git(repo, "checkout", "-q", "main")
    now = datetime.now(UTC)
    soon = world.engine("expire", "--dry-run", "--now", (now + timedelta(days=13)).isoformat())
    assert soon.returncode == 0, soon.stderr
    assert [op["operation"] for op in json.loads(soon.stdout)["operations"]] == ["none"]
    later = world.engine("expire", "--dry-run", "--now", (now + timedelta(days=15)).isoformat())
    ops = json.loads(later.stdout)["operations"]
    assert [(op["stack"], op["operation"]) for op in ops] == [("dev-bob", "destroy")], ops
    assert "idle for 14 days, past its ttl of 14 days" in ops[0]["reason"] or "idle for 15 days" in ops[0]["reason"]
    gone = world.engine("expire", "--json", "--now", (now + timedelta(days=15)).isoformat())
    assert _report(gone)["status"] == "succeeded" and "dev-bob" not in world.stacks()
    for entry in world.history("dev"):
        assert entry["started"].endswith("+00:00") and entry["ended"].endswith("+00:00"), entry
        started = datetime.fromisoformat(entry["started"])
        assert timedelta(0) <= now - started < timedelta(minutes=30), "times are UTC, not local times read as UTC"
    never = world.engine("history", "--stack", "dev-nobody", "--json")
    assert never.returncode == 0 and json.loads(never.stdout)["updates"] == []


def test_6a_expire_warns_before_the_ttl_honours_extensions_and_destroys_stacks_whose_branch_is_gone(world: World) -> None:
    repo = world.repo
    remote = world.tmp / "origin.git"
    gitrepo.git(world.tmp, "init", "-q", "--bare", str(remote))
    gitrepo.git(repo, "remote", "add", "origin", str(remote))
    gitrepo.git(repo, "checkout", "-q", "-b", "dev/carol")
    head = gitrepo.commit(repo, {"CAROL.md": "carol\n"}, "Start carol")
    gitrepo.git(repo, "push", "-q", "origin", "main", "dev/carol")
    assert _report(world.engine("run", "--json", event=push_event(world, "dev/carol", "", head, "carol", created=True)))["status"] == "succeeded"
    gitrepo.git(repo, "checkout", "-q", "main")
    now = datetime.now(UTC)
    soon = world.engine("expire", "--dry-run", "--now", (now + timedelta(days=12)).isoformat(),
                        GITHUB_ACTIONS="true")
    assert soon.returncode == 0, soon.stderr
    assert "::warning title=personal stack expiring::personal stack dev-carol expires at" in soon.stdout
    assert "extend --stack dev-carol --days N" in soon.stderr
    plan = json.loads(soon.stdout[soon.stdout.index("{"):])
    assert [op["operation"] for op in plan["operations"]] == ["none"] and len(plan["notices"]) == 1
    assert "personal stacks about to expire" in (world.tmp / "summary.md").read_text().lower()
    # an extension keeps it past its ttl
    extended = world.engine("extend", "--stack", "dev-carol", "--days", "30", "--json")
    assert extended.returncode == 0, extended.stderr
    later = world.engine("expire", "--dry-run", "--now", (now + timedelta(days=20)).isoformat())
    assert [op["operation"] for op in json.loads(later.stdout)["operations"]] == ["none"], later.stdout
    assert world.engine("extend", "--stack", "dev", "--days", "3").returncode == 2  # environments never expire
    assert world.engine("extend", "--stack", "dev-carol", "--days", "0").returncode == 2
    # the branch is deleted on the remote (and the delete event was missed): expire destroys the stack
    gitrepo.git(repo, "push", "-q", "origin", "--delete", "dev/carol")
    gone = world.engine("expire", "--dry-run")
    ops = json.loads(gone.stdout)["operations"]
    assert [(op["stack"], op["operation"]) for op in ops] == [("dev-carol", "destroy")], ops
    assert "no longer exists on the remote" in ops[0]["reason"]
    assert _report(world.engine("expire", "--json"))["status"] == "succeeded"
    assert world.stacks() == {"dev"}, "only the personal stack went; the environment is never touched"


def test_6b_drift_made_out_of_band_is_detected_with_exit_5(world: World) -> None:
    clean = world.engine("drift", "--json")
    assert clean.returncode == 0, clean.stderr
    assert [r["status"] for r in json.loads(clean.stdout)["reports"]] == ["succeeded"]
    # someone edits the "cloud" by hand
    (record,) = [p for p in (world.cloud / "record").glob("*.json") if json.loads(p.read_text())["content"].startswith("hi")
                 or json.loads(p.read_text())["content"].startswith("hello")]
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "content": "edited by hand"}))
    drifted = world.engine("drift", "--json")
    assert drifted.returncode == 5, (drifted.stdout, drifted.stderr)
    (report,) = json.loads(drifted.stdout)["reports"]
    assert report["status"] == "drifted" and "settings" in report["reason"] and "content" in report["reason"]
    assert "edited by hand" not in drifted.stdout, "values are never shown, only the keys that differ"
    # a drift check writes nothing: the state still says what was deployed, so a second check finds it again;
    # with --issues it keeps one issue for the stack, updated in place
    first = world.engine("drift", "--issues")
    assert first.returncode == 5, first.stderr
    assert world.engine("drift", "--issues").returncode == 5
    (issue,) = world.gh.issues.values()
    assert issue["state"] == "open" and issue["title"] == "Drift detected in stack dev"
    assert "settings" in issue["body"] and "content" in issue["body"] and "edited by hand" not in issue["body"]
    assert [x["name"] for x in issue["labels"]] == ["ghost-gitops-drift"]
    # remediation is opt-in per environment (the fixture's dev allows it): refresh, up, check again, close the issue
    before = len(world.history("dev"))
    fixed = world.engine("drift", "--remediate", "--issues", "--json", GITHUB_ACTOR="erin")
    assert fixed.returncode == 0, (fixed.stdout, fixed.stderr)
    (report,) = json.loads(fixed.stdout)["reports"]
    assert report["status"] == "remediated" and "drift issue #1 closed" in report["notes"], report
    assert json.loads(record.read_text())["content"] == data["content"], "the program's value is back in the cloud"
    history = world.history("dev")
    assert [h["kind"] for h in history[:2]] == ["update", "refresh"] and len(history) == before + 2
    assert history[0]["message"].startswith("drift remediation of dev by erin: re-apply the program at ")
    assert issue["state"] == "closed" and "No drift in `dev`" in issue["comments"][-1]
    assert world.engine("drift", "--issues").returncode == 0 and len(world.gh.issues) == 1
    assert world.engine("drift", "--stack", "dev-nobody").returncode == 0  # a personal stack, named: not deployed
    assert world.engine("drift", "--issues", GITHUB_TOKEN="").returncode == 2  # no token: refused up front


def _slow(world: World, seconds: str) -> str:
    """Commit a change that makes the next update slow (the record provider sleeps); returns the commit."""
    set_config(world, "greeting", f"slow-{seconds}-{time.monotonic_ns()}")
    return gitrepo.commit(world.repo, {"fixture_cloud.py": (world.repo / "fixture_cloud.py").read_text().replace(
        "    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:\n",
        "    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:\n"
        f"        import time; time.sleep({seconds})  # noqa: E702\n", 1)}, "slow update")


def test_7_concurrent_ups_queue_on_the_lock_and_the_backend_lock_answers_with_exit_3(world: World) -> None:
    _slow(world, "6")
    first = world.start("up", "--stack", "dev", "--json", "--heartbeat", "1")
    time.sleep(1.5)
    second = world.engine("up", "--stack", "dev", "--json")  # same lock directory: waits, then runs (nothing to do)
    out, err = first.communicate(timeout=300)
    world.outputs += [out, err, second.stdout, second.stderr]
    assert first.returncode == 0, err
    assert "still updating pulumi-python:dynamic:Resource settings (0m " in err, err  # the heartbeat of a long step
    assert second.returncode == 0, second.stderr
    assert "lock on dev acquired after" in second.stderr
    # Two lock directories: the engine's file lock cannot see the other run; the backend's own lock answers.
    set_config(world, "greeting", f"slow-again-{time.monotonic_ns()}")
    gitrepo.commit(world.repo, {}, "another slow update")
    first = world.start("up", "--stack", "dev", "--lock-dir", str(world.tmp / "locks-a"))
    time.sleep(3)
    second = world.engine("up", "--stack", "dev", "--lock-dir", str(world.tmp / "locks-b"),
                          "--busy-attempts", "2", "--busy-wait", "0.5")
    out, err = first.communicate(timeout=300)
    world.outputs += [out, err]
    assert first.returncode == 0, err
    assert second.returncode == 3, (second.stdout, second.stderr)
    assert "locked" in second.stderr and "retry 1/1" in second.stderr and "gave up after 2 attempts" in second.stderr


def test_8_a_killed_up_leaves_a_lock_and_the_next_run_says_what_to_do(world: World) -> None:
    set_config(world, "greeting", f"killed-{time.monotonic_ns()}")
    gitrepo.commit(world.repo, {}, "update that gets killed")
    proc = world.start("up", "--stack", "dev")
    deadline = time.monotonic() + 120
    assert proc.stderr is not None
    seen = ""
    while time.monotonic() < deadline and "update" not in seen:
        seen += proc.stderr.readline()
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner dies: the engine, the CLI and the provider with it
    proc.wait(timeout=30)
    after = world.engine("up", "--stack", "dev", "--busy-attempts", "2", "--busy-wait", "0.2")
    assert after.returncode == 3, (after.stdout, after.stderr)
    assert "pulumi cancel --yes --stack dev" in after.stderr and "--clear-pending-creates" in after.stderr
    # status says who holds the lock and that its process is gone; recover follows the advice
    status = world.engine("status", "--stack", "dev", "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["locks"] and state["locks"][0]["alive"] is False and "recover --stack dev --yes" in state["advice"]
    assert world.engine("recover", "--stack", "dev").returncode == 2  # --yes is required
    recovered_state = world.engine("recover", "--stack", "dev", "--yes", "--json")
    assert recovered_state.returncode == 0, recovered_state.stderr
    after_recover = json.loads(recovered_state.stdout)
    assert after_recover["locks"] == [] and after_recover["pending_operations"] == []
    assert "safe to operate" in after_recover["advice"]
    recovered = world.engine("up", "--stack", "dev", "--json")
    assert recovered.returncode == 0, recovered.stderr


def test_8b_sigterm_stops_the_cli_within_the_grace_period_reports_interrupted_and_releases_the_lock(world: World) -> None:
    _slow(world, "20")
    summary = world.tmp / "summary.md"
    summary.write_text("")
    proc = world.start("up", "--stack", "dev", "--json", "--heartbeat", "1", "--stop-grace", "3")
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "still updating" not in seen:
        seen += proc.stderr.readline()
    assert "still updating" in seen, seen
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)  # as a CI timeout does: to the engine only, not to its process group
    out, err = proc.communicate(timeout=120)
    took = time.monotonic() - started
    world.outputs += [out, err]
    assert proc.returncode == 130, (out, err)
    assert took < 15, f"bounded: the CLI gets 3 s, then it is stopped ({took:.1f}s)"
    assert "SIGTERM received: asking the Pulumi CLI to stop" in err and "did not stop within 3s: killed" in err, err
    (report,) = json.loads(out)["reports"]
    assert report["status"] == "interrupted" and "interrupted by SIGTERM" in report["error"]
    assert any("cancelled the lock the stopped CLI left on dev" in n for n in report["notes"]), report["notes"]
    assert "interrupted" in summary.read_text()
    state = json.loads(world.engine("status", "--stack", "dev", "--json").stdout)
    assert state["locks"] == [], "the lock is released: the next run is not blocked"
    if state["pending_operations"]:
        assert world.engine("recover", "--stack", "dev", "--yes").returncode == 0
    assert world.engine("up", "--stack", "dev", "--json").returncode == 0


@pytest.mark.parametrize(("args", "says"), [
    (["rollback", "--stack", "nope", "--reason", "x"], "unknown stack 'nope'"),
    (["rollback", "--stack", "dev-nobody", "--reason", "x"], "nothing to roll back"),
    (["rollback", "--stack", "dev", "--reason", "x", "--to", "0" * 40], "never deployed successfully"),
    (["rollback", "--stack", "dev", "--reason", " "], "needs --reason"),
    (["status", "--stack", "nope"], "unknown stack 'nope'"),
    (["recover", "--stack", "nope", "--yes"], "unknown stack 'nope'"),
    (["extend", "--stack", "dev-nobody", "--days", "3"], "does not exist"),
    (["drift", "--stack", "nope"], "not a stack of"),
    (["run", "--branch", "main", "--accept-plan-change", " "], "needs a reason"),
    (["history", "--stack", "nope"], "unknown stack 'nope'"),
])
def test_8c_bad_input_is_named_with_exit_2_and_changes_nothing(world: World, args: list[str], says: str) -> None:
    before = world.history("dev")
    proc = world.engine(*args)
    assert proc.returncode == 2 and says in proc.stderr, (proc.stdout, proc.stderr)
    assert world.history("dev") == before


def test_8d_an_up_starts_at_most_four_cli_processes_and_never_asks_for_plaintext_secrets(world: World) -> None:
    """Through a shim CLI that logs its arguments: the first `up` asks the new binary's version and writes the
    tags that changed; the next, with nothing to change, is `stack tag ls` (the supersession check), `stack history`
    right before the `up` itself (the check again, from what the CLI writes under the lock: another runner may have
    deployed meanwhile, issue 30) and `up` (issue 18: at most 4). No call ever asks for --show-secrets, and the
    outputs still arrive (from the event stream), the secret one masked."""
    shim, log = world.tmp / "shim", world.tmp / "cli-calls.log"
    (shim / "bin").mkdir(parents=True, exist_ok=True)
    (shim / "bin" / "pulumi").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {world.cli} "$@"\n')
    (shim / "bin" / "pulumi").chmod(0o755)
    (shim / "bin" / "pulumi-resource-pulumi-python").symlink_to(world.cli.parent / "pulumi-resource-pulumi-python")
    calls = []
    for _ in range(2):
        log.write_text("")
        report = _report(world.engine("up", "--stack", "dev", "--skip-health-check", "--json",
                                      GHOST_GITOPS_PULUMI_ROOT=str(shim)))
        assert report["status"] == "succeeded"
        assert report["outputs"]["token"] == "[secret]" and report["outputs"]["zones"] == ["zone-a", "zone-b"]
        calls.append([ln.replace("--non-interactive ", "") for ln in log.read_text().splitlines() if ln.strip()])
    assert not any("--show-secrets" in c for c in calls[0] + calls[1]), calls
    assert calls[0][0] == "version" and sum(c == "version" for c in calls[1]) == 0, calls
    assert len(calls[1]) <= 4, calls[1]
    assert [c.split(" --")[0].split()[:3] for c in calls[1]] == [["stack", "tag", "ls"], ["stack", "history"], ["up"]], calls[1]


def test_9_canaries_never_leak(world: World) -> None:
    summary = world.tmp / "summary.md"
    published = [c["body"] for c in world.gh.comments.values()] + [summary.read_text() if summary.exists() else ""]
    assert len(world.outputs) > 20
    for text in world.outputs + published:
        assert CANARY not in text and PASSPHRASE not in text
