"""The policy pack on the real Pulumi CLI: the fixture project (tests/data/fixture_project) with this repository's pack
(policypack/), its stack in `production`, and its database (a stateful resource by environments.yaml) not
protected: `prod-stateful-protected` is violated.

A story, in order: the offline verdicts (`synth --policy`) equal the real CLI's (parity); a pull request's
preview shows the violation at the top of its comment and in `--json`, exit 9; the merge's `up` is refused
before anything changes; with the policy advisory in the stack's rule the `up` proceeds and its report still
lists it; a waiver with a reason is recorded in the report."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from policypack import rules
from tests.support import gitrepo
from tests.support.analyzer_records import check_recording, subjects
from tests.support.fake_github import FakeGitHub, serve
from tests.support.health_server import HealthServer
from tests.support.health_server import serve as serve_health
from tests.support.paths import FIXTURE_PROJECT, ROOT
from tests.support.real_world import PASSPHRASE, World, pr_event, push_event
from tests.support.realcli import require_cli

pytestmark = pytest.mark.cli

RULES = """defaults:
  infra_paths: ["Pulumi.yaml", "Pulumi.*.yaml", "__main__.py", "fixture_cloud.py", "environments.yaml", "policypack/**"]
  stateful: ["pulumi-python:dynamic:Resource::database"]
environments:
  - branch: main
    stack: dev
    kind: environment
    reviewed_plan: "off"
"""
DATABASE = "pulumi-python:dynamic:Resource::database"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    choice = require_cli()
    tmp = tmp_path_factory.mktemp("policy-real")
    repo, backend, cloud = tmp / "repo", tmp / "state", tmp / "cloud"
    for d in (backend, cloud, tmp / "home"):
        d.mkdir()
    shutil.copytree(FIXTURE_PROJECT, repo, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "policypack", repo / "policypack", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text("__pycache__/\n.pulumi-state/\n")
    (repo / "environments.yaml").write_text(RULES)
    (repo / "Pulumi.dev.yaml").write_text(f"config:\n  fixture:cloudDir: {cloud}\n  fixture:environment: production\n"
                                          "  fixture:zones:\n    - zone-a\n")
    gitrepo.git(repo, "init", "-q", "-b", "main")
    gitrepo.git(repo, "add", "-A")
    gitrepo.git(repo, "commit", "-q", "-m", "fixture project with the policy pack, in production")
    with serve(FakeGitHub()) as gh, serve_health(HealthServer()) as health:
        w = World(repo=repo, backend=backend, cloud=cloud, tmp=tmp, cli=choice.path, gh=gh, health=health)
        w.shas["initial"] = gitrepo.git(repo, "rev-parse", "HEAD")
        yield w


def _report(proc: Any) -> dict[str, Any]:
    (report,) = json.loads(proc.stdout)["reports"]
    return dict(report)


def _verdicts(violations: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(policy, type::name, level): the resource by type and name, because the mock runtime's URNs name the stack
    as every top-level resource's parent type (`pulumi:pulumi:Stack$...`) where the real engine's do not."""
    return {(v["policy"], f"{v['type']}::{v['name']}", v["level"]) for v in violations}


def test_1_offline_and_real_cli_verdicts_are_the_same(world: World) -> None:
    offline = world.engine("synth", "--stack", "dev", "--policy", "--format", "json")
    assert offline.returncode == 9, offline.stderr
    off = json.loads(offline.stdout)["policy"]
    real = world.engine("preview", "--stack", "dev", "--json")
    assert real.returncode == 9, (real.stdout, real.stderr)
    report = _report(real)
    assert report["status"] == "policy-denied" and report["offline"] is False
    assert _verdicts(off["violations"]) == _verdicts(report["policy"]["violations"]) == {
        ("prod-stateful-protected", DATABASE, "mandatory")}
    assert off["policies"] == report["policy"]["policies"] == 29
    # the CLI's message is the policy's own, and the report says how to fix it
    (offline_v,) = off["violations"]
    (real_v,) = report["policy"]["violations"]
    assert real_v["message"] == offline_v["message"] and real_v["fix"] == offline_v["fix"] and real_v["fix"]
    assert "policy prod-stateful-protected [mandatory] (database)" in real.stderr
    assert world.stacks() == set() and world.records("database") == []  # a preview creates nothing


def test_1b_what_the_real_cli_sends_the_pack_is_the_committed_fixture(world: World) -> None:
    """The pack records what the real CLI sends it (tests/support/analyzer_records.py): the same resources and property paths
    as tests/data/analyzer/fixture-project.json, and the pack's verdicts on the recording are the CLI's."""
    folder = world.tmp / "analyzer"
    real = world.engine("preview", "--stack", "dev", "--json", GHOST_GITOPS_ANALYZER_RECORD=str(folder))
    assert real.returncode == 9, (real.stdout, real.stderr)
    resources = check_recording(folder / "dev.json", "fixture-project")
    found = rules.evaluate(subjects(resources), rules.Context(stack="dev", environment="production", stateful=(DATABASE,)), {}, [])
    assert {(v.policy, f"{v.type}::{v.name}", v.level) for v in found} == _verdicts(_report(real)["policy"]["violations"])
    assert PASSPHRASE not in (folder / "dev.json").read_text()


def test_2_a_pull_request_shows_the_violation_at_the_top_of_its_comment(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "-b", "feature/greeting")
    head = gitrepo.commit(repo, {"__main__.py": (repo / "__main__.py").read_text() + "\n# a comment\n"}, "Touch the program")
    proc = world.engine("run", "--json", event=pr_event(3, "Touch the program", "feature/greeting", head, world.shas["initial"]))
    assert proc.returncode == 9, (proc.stdout, proc.stderr)
    report = _report(proc)
    assert report["status"] == "policy-denied" and report["operation"] == "preview"
    comment = world.gh.comments[max(world.gh.comments)]["body"]
    top = comment.split("**Reason:**")[0]
    assert "[!CAUTION]" in top and "**Policy violations:** 1 mandatory, 0 advisory" in top
    assert "🛑 **mandatory** `prod-stateful-protected` on `database` (`pulumi-python:dynamic:Resource`)" in top
    assert "holds data in production but is not protected" in top and "**fix:**" in top
    assert "**Policy pack:** 29 policies, 1 violation(s)" in comment
    world.shas["pr"] = head


def test_3_the_merge_is_refused_before_anything_changes(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "main")
    gitrepo.git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #3", "feature/greeting")
    merge = gitrepo.git(repo, "rev-parse", "HEAD")
    proc = world.engine("run", "--json", event=push_event(world, "main", world.shas["initial"], merge, "Merge pull request #3"))
    assert proc.returncode == 9, (proc.stdout, proc.stderr)
    report = _report(proc)
    assert report["status"] == "policy-denied" and report["operation"] == "up"
    assert "stopped by the policy pack before any change: mandatory prod-stateful-protected (database)" in report["error"]
    assert world.records("database") == [] and world.records("record") == []
    assert "dev" not in world.stacks() or world.history("dev") == []
    world.shas["merge"] = merge


def test_4_advisory_in_the_stack_rule_lets_the_up_proceed_and_still_reports_it(world: World) -> None:
    rules = RULES + "    policy:\n      enforcement:\n        prod-stateful-protected: advisory\n"
    head = gitrepo.commit(world.repo, {"environments.yaml": rules}, "prod-stateful-protected is advisory for dev")
    proc = world.engine("run", "--json", event=push_event(world, "main", world.shas["merge"], head, "advisory"))
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    report = _report(proc)
    assert report["status"] == "succeeded" and report["operation"] == "up"
    assert _verdicts(report["policy"]["violations"]) == {("prod-stateful-protected", DATABASE, "advisory")}
    assert len(world.records("database")) == 1 and len(world.history("dev")) == 1
    assert "policy prod-stateful-protected [advisory] database: holds data in production" in world.engine(
        "preview", "--stack", "dev").stdout
    world.shas["advisory"] = head


def test_5_a_waiver_with_its_reason_is_recorded_in_the_report(world: World) -> None:
    rules = RULES + ("    policy:\n      waivers:\n        - policy: prod-stateful-protected\n"
                     "          resource: \"pulumi-python:dynamic:Resource::database\"\n"
                     "          reason: \"the fixture's database is rebuilt from its seed on every test run\"\n")
    head = gitrepo.commit(world.repo, {"environments.yaml": rules}, "waive prod-stateful-protected for the database")
    proc = world.engine("run", "--json", event=push_event(world, "main", world.shas["advisory"], head, "waiver"))
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    report = _report(proc)
    (waived,) = report["policy"]["violations"]
    assert waived["policy"] == "prod-stateful-protected" and waived["level"] == "mandatory"
    assert waived["waived"] == "the fixture's database is rebuilt from its seed on every test run"
    summary = (world.tmp / "summary.md").read_text()
    assert "waived `prod-stateful-protected` on `database`" in summary and "rebuilt from its seed" in summary
    # an unknown policy name in the settings is bad input before anything runs
    bad = RULES + "    policy:\n      enforcement:\n        prod-stateful-protectd: advisory\n"
    gitrepo.commit(world.repo, {"environments.yaml": bad}, "typo")
    proc = world.engine("preview", "--stack", "dev")
    assert proc.returncode == 2 and "unknown policy `prod-stateful-protectd` (did you mean `prod-stateful-protected`?)" in proc.stderr
