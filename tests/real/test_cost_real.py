"""The budget guard on the real Pulumi CLI: the fixture project (tests/data/fixture_project) with a test price for its
database (its costs.yaml: $0.50 per GB-month, 10 GB unless `databaseSizeGb` says otherwise) and a dev rule with
``budget_monthly_usd: 30``. The cost is estimated from the real CLI's step events (old and new inputs of every
resource), not from an offline synth.

A story, in order: deploy ($5), a pull request that grows the database to 100 GB ($50: the preview warns at the
top of its comment), its merge (the `up` is refused with exit 8 before anything changes), and the override
(`--accept-over-budget REASON`, recorded in the audit message)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from tests.support import gitrepo
from tests.support.fake_github import FakeGitHub, serve
from tests.support.health_server import HealthServer
from tests.support.health_server import serve as serve_health
from tests.support.paths import FIXTURE_PROJECT
from tests.support.real_world import World, pr_event, push_event, set_config
from tests.support.realcli import require_cli

pytestmark = pytest.mark.cli

RULES = """defaults:
  infra_paths: ["Pulumi.yaml", "Pulumi.*.yaml", "__main__.py", "fixture_cloud.py", "environments.yaml", "costs.yaml"]
  stateful: ["pulumi-python:dynamic:Resource::database"]
environments:
  - branch: main
    stack: dev
    kind: environment
    reviewed_plan: "off"
    budget_monthly_usd: 30
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    choice = require_cli()
    tmp = tmp_path_factory.mktemp("cost-real")
    repo, backend, cloud = tmp / "repo", tmp / "state", tmp / "cloud"
    for d in (backend, cloud, tmp / "home"):
        d.mkdir()
    shutil.copytree(FIXTURE_PROJECT, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text("__pycache__/\n.pulumi-state/\n")
    (repo / "environments.yaml").write_text(RULES)
    (repo / "Pulumi.dev.yaml").write_text(f"config:\n  fixture:cloudDir: {cloud}\n  fixture:zones:\n    - zone-a\n")
    gitrepo.git(repo, "init", "-q", "-b", "main")
    gitrepo.git(repo, "add", "-A")
    gitrepo.git(repo, "commit", "-q", "-m", "fixture project with a budget")
    with serve(FakeGitHub()) as gh, serve_health(HealthServer()) as health:
        w = World(repo=repo, backend=backend, cloud=cloud, tmp=tmp, cli=choice.path, gh=gh, health=health)
        w.shas["initial"] = gitrepo.git(repo, "rev-parse", "HEAD")
        yield w


def _one(proc: object) -> dict[str, object]:
    doc = json.loads(proc.stdout)  # type: ignore[attr-defined]
    (report,) = doc["reports"]
    return dict(report)


def test_1_a_deploy_within_budget_reports_its_cost(world: World) -> None:
    proc = world.engine("up", "--stack", "dev", "--json")
    assert proc.returncode == 0, proc.stderr
    report = _one(proc)
    cost = report["cost"]
    assert isinstance(cost, dict)
    assert cost["after"]["monthly_usd"] == {"low": 5.0, "high": 5.0}  # 10 GB (the default) x $0.50
    assert cost["before"]["monthly_usd"] == {"low": 0.0, "high": 0.0} and cost["over_budget"] is False
    (line,) = cost["after"]["lines"]
    assert line["name"] == "database" and line["quantity"] == "10 GB-month"
    assert line["price"]["source"].startswith("test price")
    # the CLI wrote the passphrase's salt into the stack file: commit it, as a team would, so later ups are clean
    world.shas["initial"] = gitrepo.commit(world.repo, {}, "Record the stack's encryption salt")
    again = world.engine("up", "--stack", "dev")
    assert again.returncode == 0, again.stderr
    assert "cost: $5.00 per month (unchanged)" in again.stdout  # nothing changes, nor does the cost


def test_2_a_pull_request_over_budget_is_warned_at_the_top_of_its_comment(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "-b", "feature/bigger-db")
    set_config(world, "databaseSizeGb", "100")
    head = gitrepo.commit(repo, {}, "A bigger database")
    proc = world.engine("run", "--json", event=pr_event(7, "A bigger database", "feature/bigger-db", head, world.shas["initial"]))
    assert proc.returncode == 0, proc.stderr  # a preview warns; it refuses nothing
    report = _one(proc)
    assert report["operation"] == "preview" and report["offline"] is False
    cost = report["cost"]
    assert isinstance(cost, dict)
    assert cost["before"]["monthly_usd"]["low"] == 5.0 and cost["after"]["monthly_usd"]["low"] == 50.0
    assert cost["over_budget"] is True and cost["budget_monthly_usd"] == 30
    comment = world.gh.comments[max(world.gh.comments)]["body"]
    top = comment.split("#### ")[0]
    assert "[!CAUTION]" in top and "up to $50.00 per month, above its budget of $30.00" in top
    assert "**$5.00 → $50.00 per month (+$45.00)**" in comment
    assert "| `database` | fixture database storage | 10 GB-month → 100 GB-month | $5.00 → $50.00 | +$45.00 |" in comment
    world.shas["pr"] = head


def test_3_its_merge_is_refused_with_exit_8_before_anything_changes(world: World) -> None:
    repo = world.repo
    gitrepo.git(repo, "checkout", "-q", "main")
    gitrepo.git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from acme/feature/bigger-db", "feature/bigger-db")
    merge = gitrepo.git(repo, "rev-parse", "HEAD")
    before = world.history("dev")
    proc = world.engine("run", "--json", event=push_event(world, "main", world.shas["initial"], merge, "Merge pull request #7"))
    assert proc.returncode == 8, (proc.stdout, proc.stderr)
    report = _one(proc)
    assert report["status"] == "over-budget"
    error = str(report["error"])
    assert "up to $50.00 per month ($5.00 → $50.00 per month (+$45.00)), over its budget of $30.00" in error
    assert "nothing was applied" in error and "--accept-over-budget REASON" in error
    assert world.history("dev") == before  # no update ran
    (db,) = world.records("database")
    assert "size_gb" not in db  # the "cloud" still holds the 10 GB database
    summary = (world.tmp / "summary.md").read_text()
    assert "💸" in summary and "over-budget" in summary
    world.shas["merge"] = merge


def test_4_an_override_with_a_reason_deploys_and_the_audit_says_so(world: World) -> None:
    empty = world.engine("up", "--stack", "dev", "--accept-over-budget", "  ")
    assert empty.returncode == 2 and "--accept-over-budget needs a reason" in empty.stderr
    proc = world.engine("up", "--stack", "dev", "--json", "--accept-over-budget", "launch week: finance approved the bigger db")
    assert proc.returncode == 0, proc.stderr
    report = _one(proc)
    assert report["status"] == "succeeded"
    (db,) = world.records("database")
    assert db["size_gb"] == 100
    (latest, *_) = world.history("dev")
    message = latest["message"]
    assert "[over budget: the cost estimate of dev after this change is up to $50.00 per month" in message
    assert "accepted by carol: launch week: finance approved the bigger db]" in message
