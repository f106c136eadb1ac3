"""The offline structural diff a fork PR gets: synth at the base commit against synth at the head."""

from __future__ import annotations

import io
import json
from pathlib import Path

from automation.cli.main import main
from tests.support.fake_github import FakeGitHub, serve
from tests.support.gitrepo import commit, git, project_repo
from tests.support.paths import EVENTS, ROOT


def _pr_event(tmp_path: Path, fixture: str, base: str, head: str) -> Path:
    """A pull_request payload (tests/data/events) for these base and head commits, written to a file."""
    payload = json.loads((EVENTS / f"{fixture}.json").read_text())
    payload["pull_request"]["base"]["sha"], payload["pull_request"]["head"]["sha"] = base, head
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    return event


def test_fork_pr_gets_an_offline_diff_comment_with_values(tmp_path: Path) -> None:
    """Issue 18's example PR: the image tag, a memory limit and the RDS instance class change; each shows as
    old → new at its property path, in the comment, the summary, `--json` and the terminal."""
    repo = project_repo(tmp_path / "repo", ROOT)
    base = git(repo, "rev-parse", "HEAD")
    dev_yaml = (repo / "Pulumi.dev.yaml").read_text()
    for old, new in (("ghostStorageGb: 5", "ghostStorageGb: 8"), ("ghostImage: ghost:6.65.0-alpine", "ghostImage: ghost:6.66.0-alpine"),
                     ("ghostMemoryLimit: 768Mi", "ghostMemoryLimit: 1Gi"), ("dbInstanceClass: db.t4g.micro", "dbInstanceClass: db.t4g.small")):
        assert old in dev_yaml
        dev_yaml = dev_yaml.replace(old, new)
    head = commit(repo, {"Pulumi.dev.yaml": dev_yaml}, "bigger content volume, new Ghost, more memory, bigger database")
    event = _pr_event(tmp_path, "pull_request_fork", base, head)
    summary = tmp_path / "summary.md"
    with serve(FakeGitHub()) as fake:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--project-dir", str(repo), "run", "--event-name", "pull_request", "--event-path", str(event), "--json",
                     "--lock-dir", str(tmp_path / "locks")],
                    environ={"GITHUB_TOKEN": "t0ken-fork", "GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": "acme/blog",
                             "GITHUB_STEP_SUMMARY": str(summary)}, out=out, err=err)
        comments = [c["body"] for c in fake.comments.values()]
    assert code == 0, err.getvalue()
    (report,) = json.loads(out.getvalue())["reports"]
    assert report["offline"] is True and report["status"] == "succeeded"
    changed = {c["name"]: c for c in report["changes"]}
    assert changed["ghost-content"]["keys"] == ["spec"] and changed["ghost-content"]["op"] == "update"
    values = {(c["name"], p["path"]): (p["old"], p["new"]) for c in report["changes"] for p in c["properties"]}
    assert values[("ghost-content", "spec.resources.requests.storage")] == ("5Gi", "8Gi")
    assert values[("dev-mysql", "instanceClass")] == ("db.t4g.micro", "db.t4g.small")
    image = "spec.template.spec.containers[0].image"
    memory = "spec.template.spec.containers[0].resources.limits.memory"
    assert values[("ghost-deployment", image)] == ("ghost:6.65.0-alpine", "ghost:6.66.0-alpine")
    assert values[("ghost-deployment", memory)] == ("768Mi", "1Gi")
    assert report["counts"]["same"] > 50
    (comment,) = comments
    assert "Offline structural diff: `dev`" in comment and "#### Changed values" in comment
    for line in (f"| `{image}` | `ghost:6.65.0-alpine` | `ghost:6.66.0-alpine` |", f"| `{memory}` | `768Mi` | `1Gi` |",
                 "| `instanceClass` | `db.t4g.micro` | `db.t4g.small` |", "| `spec.resources.requests.storage` | `5Gi` | `8Gi` |"):
        assert line in comment, line
        assert line in summary.read_text(), line
    assert "Offline structural diff" in summary.read_text()
    assert git(repo, "worktree", "list").count("\n") == 0, "the base checkout was cleaned up"
    # the terminal: the same values, one line each
    text_out = io.StringIO()
    code = main(["--project-dir", str(repo), "run", "--event-name", "pull_request", "--event-path", str(event),
                 "--lock-dir", str(tmp_path / "locks")], environ={}, out=text_out, err=io.StringIO())
    assert code == 0
    assert f"{image}: ghost:6.65.0-alpine → ghost:6.66.0-alpine" in text_out.getvalue()
    assert "instanceClass: db.t4g.micro → db.t4g.small" in text_out.getvalue()


def test_without_a_pulumi_cli_a_same_repo_pr_falls_back_to_the_offline_diff(tmp_path: Path) -> None:
    repo = project_repo(tmp_path / "repo", ROOT)
    base = git(repo, "rev-parse", "HEAD")
    event = _pr_event(tmp_path, "pull_request_opened", base, base)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(repo), "run", "--event-name", "pull_request", "--event-path", str(event), "--json"],
                environ={"PULUMI_CONFIG_PASSPHRASE": "x", "GHOST_GITOPS_CACHE": str(tmp_path / "empty-cache"),
                         "PATH": "/usr/bin:/bin"}, out=out, err=err)
    assert code == 0, err.getvalue()
    (report,) = json.loads(out.getvalue())["reports"]
    assert report["offline"] is True and report["changes"] == []
    assert "cloud preview unavailable: no Pulumi CLI" in report["notes"][0]
    assert "no PR comment: GITHUB_TOKEN" in err.getvalue()


def test_a_component_code_change_shows_in_the_offline_diff(tmp_path: Path) -> None:
    """Each commit is synthesized with its own infra/ and apps/ code, not the engine checkout's."""
    repo = project_repo(tmp_path / "repo", ROOT)
    base = git(repo, "rev-parse", "HEAD")
    component = (repo / "apps" / "ghost" / "component.py").read_text()
    changed = component.replace("readiness_probe=k8s.core.v1.ProbeArgs(http_get=probe_get, period_seconds=10,",
                                "readiness_probe=k8s.core.v1.ProbeArgs(http_get=probe_get, period_seconds=15,")
    database = (repo / "infra" / "database.py").read_text()
    slower = database.replace('name="long_query_time", value="2"', 'name="long_query_time", value="5"')
    assert changed != component and slower != database
    head = commit(repo, {"apps/ghost/component.py": changed, "infra/database.py": slower}, "slower probe, slow-log threshold")
    event = _pr_event(tmp_path, "pull_request_fork", base, head)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(repo), "run", "--event-name", "pull_request", "--event-path", str(event), "--json"],
                environ={}, out=out, err=err)
    assert code == 0, err.getvalue()
    (report,) = json.loads(out.getvalue())["reports"]
    assert report["offline"] is True
    assert sorted((c["type"], c["op"]) for c in report["changes"]) == [
        ("aws:rds/parameterGroup:ParameterGroup", "update"), ("kubernetes:apps/v1:Deployment", "update")]


def test_a_fork_pr_going_to_nat_gateways_per_zone_shows_its_monthly_cost_delta(tmp_path: Path) -> None:
    """Issue 16's example on the offline path: dev from one NAT gateway to one per zone (two zones) adds a gateway
    ($0.045 x 730 h = $32.85) and its public address ($0.005 x 730 h = $3.65): +$36.50 a month, in the comment,
    the job summary and `--json`."""
    repo = project_repo(tmp_path / "repo", ROOT)
    base = git(repo, "rev-parse", "HEAD")
    dev_yaml = (repo / "Pulumi.dev.yaml").read_text()
    assert "natGateways: single" in dev_yaml
    head = commit(repo, {"Pulumi.dev.yaml": dev_yaml.replace("natGateways: single", "natGateways: perAz")}, "NAT per zone")
    event = _pr_event(tmp_path, "pull_request_fork", base, head)
    summary = tmp_path / "summary.md"
    with serve(FakeGitHub()) as fake:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--project-dir", str(repo), "run", "--event-name", "pull_request", "--event-path", str(event), "--json",
                     "--lock-dir", str(tmp_path / "locks")],
                    environ={"GITHUB_TOKEN": "t0ken-fork", "GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": "acme/blog",
                             "GITHUB_STEP_SUMMARY": str(summary)}, out=out, err=err)
        (comment,) = [c["body"] for c in fake.comments.values()]
    assert code == 0, err.getvalue()
    (report,) = json.loads(out.getvalue())["reports"]
    assert report["cost"]["delta_monthly_usd"] == {"low": 36.5, "high": 36.5}
    assert report["cost"]["budget_monthly_usd"] == 300 and report["cost"]["over_budget"] is False
    for text in (comment, summary.read_text()):
        assert "**$189.93–$215.65 → $226.43–$252.15 per month (+$36.50)**" in text  # high: + the personal stacks' ALB
        assert "| `dev-nat-us-east-1b` | NAT gateway hours | — → 730 h | — → $32.85 | +$32.85 |" in text
        assert "Budget: $300.00 per month — within" in text
